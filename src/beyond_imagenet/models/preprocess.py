"""The evaluation transform a model is fed: Resize -> CenterCrop (or the authors' shifted window) -> Normalize."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from PIL import Image
from torchvision import transforms

INTERPOLATIONS = {
    "bilinear": transforms.InterpolationMode.BILINEAR,
    "bicubic": transforms.InterpolationMode.BICUBIC,
    "nearest": transforms.InterpolationMode.NEAREST,
}


@dataclass(frozen=True)
class Preprocess:
    """Resize(shorter side) -> CenterCrop -> RGB tensor -> Normalize: the only eval transform used.

    shift (not None) replaces Resize+CenterCrop by the authors' shifted window (ShiftedCrop), resized
    to crop x crop: the paper's shift invariance. squash: Resize to resize x resize (both sides, the aspect ratio not
    kept), as some image processors of transformers do, then the centre crop. crop_floor: the crop's offset rounded
    down, (H - C) // 2, as transformers' image processors take it (torchvision's CenterCrop rounds to the nearest:
    one pixel apart whenever H - C is odd).
    """

    resize: int
    crop: int
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    shift: int | None = None
    squash: bool = False
    crop_floor: bool = False

    def _geometry(self) -> list:
        if self.crop == 0:
            return []
        if self.shift is not None:
            return [ShiftedCrop(self.resize, self.crop, self.shift, self.interpolation)]
        size = (self.resize, self.resize) if self.squash else self.resize
        crop = FloorCenterCrop(self.crop) if self.crop_floor else transforms.CenterCrop(self.crop)
        return [transforms.Resize(size, interpolation=INTERPOLATIONS[self.interpolation]), crop]

    def to_transform(self) -> transforms.Compose:
        """The torchvision transform this preprocessing describes (crop 0: no resize or crop at all)."""
        return transforms.Compose([*self._geometry(), transforms.ToTensor(), transforms.Normalize(self.mean, self.std)])

    def to_uint8_transform(self) -> transforms.Compose:
        """The geometric part only, to a uint8 CHW tensor: what DataLoader workers make (4x less to ship)."""
        return transforms.Compose([*self._geometry(), transforms.PILToTensor()])

    def normalise(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 N x 3 x H x W -> the float tensor to_transform() gives, bit for bit (ToTensor's /255, then Normalize).

        The same elementwise float32 ops in the same order, so it may run on the model's device.
        """
        mean = torch.tensor(self.mean, dtype=torch.float32, device=batch.device)[None, :, None, None]
        std = torch.tensor(self.std, dtype=torch.float32, device=batch.device)[None, :, None, None]
        return batch.to(torch.float32).div(255).sub_(mean).div_(std)

    def as_dict(self) -> dict[str, Any]:
        """Plain-data form, recorded in every cache file (squash and crop_floor only when set, so the record of a
        preprocessing that uses neither is what it always was)."""
        data = asdict(self)
        for flag in OPTIONAL_FLAGS:
            if not data[flag]:
                del data[flag]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocess:
        """Inverse of as_dict (also reads a config `preprocess` override)."""
        return cls(int(data["resize"]), int(data["crop"]), str(data["interpolation"]),
                   tuple(map(float, data["mean"])), tuple(map(float, data["std"])),
                   None if data.get("shift") is None else int(data["shift"]), bool(data.get("squash", False)),
                   bool(data.get("crop_floor", False)))


OPTIONAL_FLAGS = ("squash", "crop_floor")


@dataclass(frozen=True)
class FloorCenterCrop:
    """A centre crop whose offsets are rounded down (transformers' center_crop); the image is at least the crop."""

    size: int

    def __call__(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        if width < self.size or height < self.size:
            raise ValueError(f"image of {width}x{height} px is smaller than the {self.size} px crop")
        top, left = (height - self.size) // 2, (width - self.size) // 2
        return image.crop((left, top, left + self.size, top + self.size))


@dataclass(frozen=True)
class ShiftedCrop:
    """The authors' CropShift (Beyond-INet): the standard C x C window in original pixels, moved by `shift`.

    With S = resize, C = crop: for w > h the window is C*h/S wide, centred as Resize(S) +
    CenterCrop(C) would take it, moved right by `shift`; otherwise (portrait and square) moved
    down. Top, left and side are each truncated with int(), as their code does, so the window is
    always square. Pixels outside the image are black (PIL crop).
    """

    resize: int
    crop: int
    shift: int
    interpolation: str

    def window(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in original pixels (the float expressions in the authors' order)."""
        size, target = self.resize, self.crop
        if width > height:
            crop_y, crop_x = (size - target) / 2, ((width / height * size) - target) / 2
            top, left = (crop_y * height) / size, (crop_x * height) / size + self.shift
            side = target * height / size
        else:
            crop_y, crop_x = (height / width * size - target) / 2, (size - target) / 2
            top, left = (crop_y * width) / size + self.shift, (crop_x * width) / size
            side = target * width / size
        left_px, top_px, side_px = int(left), int(top), int(side)
        return left_px, top_px, left_px + side_px, top_px + side_px

    def __call__(self, image: Image.Image) -> Image.Image:
        resample = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}[self.interpolation]
        return image.crop(self.window(*image.size)).resize((self.crop, self.crop), resample)
