"""Deterministic procedural renderer for the synthetic demo world (shape x texture under known factors)."""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

STYLES = ("photo", "sketch", "rendition")
BACKGROUNDS = ("plain", "gradient", "clutter")
_SS = 4  # supersampling factor: draw at 4x, downsample with LANCZOS for anti-aliasing
_OCCLUDER = (128, 128, 128)

Poly = tuple[np.ndarray, bool]  # (N x 2 vertices in image coords, y down; is_hole)


def _regular(n: int, inner: float | None = None, aspect: float = 1.0, start: float = -math.pi / 2) -> np.ndarray:
    """Regular polygon (or star when inner is given) pointing up."""
    k = 2 * n if inner else n
    ang = start + np.arange(k) * 2 * math.pi / k
    rad = np.where(np.arange(k) % 2 == 1, inner, 1.0) if inner else np.ones(k)
    return np.stack([rad * np.cos(ang) * aspect, rad * np.sin(ang)], axis=1)


def _arc(cx: float, cy: float, r: float, a0: float, a1: float, n: int = 40) -> np.ndarray:
    """Points along a circular arc from angle a0 to a1 (radians)."""
    ang = np.linspace(a0, a1, n)
    return np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], axis=1)


def _heart() -> np.ndarray:
    """Classic parametric heart, flipped so the point faces down in image coords."""
    t = np.linspace(0, 2 * math.pi, 60, endpoint=False)
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return np.stack([16 * np.sin(t) ** 3, -y], axis=1)


def _crescent() -> np.ndarray:
    """Unit disc minus a disc of radius 0.8 centred at (0.45, 0), as one polygon (no hole, so outlines stay clean)."""
    xi = (1 + 0.45**2 - 0.8**2) / (2 * 0.45)  # x of the two circle intersections
    yi = math.sqrt(1 - xi**2)
    outer = _arc(0, 0, 1.0, math.atan2(yi, xi), 2 * math.pi - math.atan2(yi, xi))
    a = math.atan2(yi, xi - 0.45)
    inner = _arc(0.45, 0, 0.8, 2 * math.pi - a, a)
    return np.concatenate([outer, inner])


def _raw_shapes() -> dict[str, list[Poly]]:
    """Shape outlines in arbitrary units; normalised to the unit circle by _normalise."""
    p = lambda pts: [(np.asarray(pts, dtype=float), False)]  # noqa: E731 - tiny local constructor
    return {
        "triangle": p(_regular(3)), "square": p(_regular(4, start=-math.pi / 4)),
        "pentagon": p(_regular(5)), "hexagon": p(_regular(6, start=0.0)),
        "ellipse": p(_regular(48, aspect=0.6)), "diamond": p(_regular(4, aspect=0.6)),
        "star5": p(_regular(5, inner=0.42)), "star4": p(_regular(4, inner=0.3)),
        "cross": p([(-.3, -1), (.3, -1), (.3, -.3), (1, -.3), (1, .3), (.3, .3), (.3, 1),
                    (-.3, 1), (-.3, .3), (-1, .3), (-1, -.3), (-.3, -.3)]),
        "arrow": p([(-1, -.25), (.2, -.25), (.2, -.7), (1, 0), (.2, .7), (.2, .25), (-1, .25)]),
        "crescent": p(_crescent()),
        "ring": [(_regular(48), False), (0.55 * _regular(48), True)],
        "heart": p(_heart()),
        "L": p([(-.6, -1), (-.1, -1), (-.1, .5), (.7, .5), (.7, 1), (-.6, 1)]),
        "T": p([(-1, -1), (1, -1), (1, -.5), (.25, -.5), (.25, 1), (-.25, 1), (-.25, -.5), (-1, -.5)]),
        "chevron": p([(-1, -.8), (0, .1), (1, -.8), (1, -.1), (0, .8), (-1, -.1)]),
        "bolt": p([(.1, -1), (.6, -1), (.2, -.2), (.6, -.2), (-.3, 1), (-.05, .15), (-.5, .15)]),
        "semicircle": p(_arc(0, 0, 1.0, math.pi, 2 * math.pi)),
    }


def _normalise(polys: list[Poly]) -> list[Poly]:
    """Centre on the bounding box and scale so the outline fits the unit circle (size = circumscribed diameter)."""
    outer = np.concatenate([pts for pts, hole in polys if not hole])
    centre = (outer.min(axis=0) + outer.max(axis=0)) / 2
    radius = np.linalg.norm(outer - centre, axis=1).max()
    return [((pts - centre) / radius, hole) for pts, hole in polys]


_SHAPE_POLYS: dict[str, list[Poly]] = {k: _normalise(v) for k, v in _raw_shapes().items()}
SHAPES: tuple[str, ...] = tuple(_SHAPE_POLYS)


def _noise(p: np.ndarray, q: np.ndarray, index: int) -> np.ndarray:
    """Camouflage-like blobs: thresholded sum of sinusoids whose directions are seeded by the class index."""
    rng = np.random.default_rng([index, 7])
    ang, freq, phase = rng.uniform(0, math.pi, 4), rng.uniform(0.5, 1.0, 4), rng.uniform(0, 2 * math.pi, 4)
    s = sum(np.sin(2 * math.pi * f * (math.cos(a) * p + math.sin(a) * q) + ph) for a, f, ph in zip(ang, freq, phase))
    return s > 0


# Each pattern maps texture-frame coords (p, q in periods) to a value in [0, 1] mixing the two colours.
_PATTERNS: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
    "stripes": lambda p, q, i: p % 1 < 0.5,
    "checker": lambda p, q, i: (np.floor(p) + np.floor(q)) % 2,
    "dots": lambda p, q, i: (p % 1 - 0.5) ** 2 + (q % 1 - 0.5) ** 2 < 0.09,
    "waves": lambda p, q, i: (p + 0.3 * np.sin(math.pi * q)) % 1 < 0.5,
    "grid": lambda p, q, i: (np.abs(p % 1 - 0.5) > 0.38) | (np.abs(q % 1 - 0.5) > 0.38),
    "rings": lambda p, q, i: np.hypot(p, q) % 1 < 0.5,
    "noise": _noise,
    "zigzag": lambda p, q, i: (p + np.abs(q % 1 - 0.5)) % 1 < 0.5,
    "spiral": lambda p, q, i: (np.hypot(p, q) + np.arctan2(q, p) / math.pi) % 1 < 0.5,
    "plaid": lambda p, q, i: 0.5 * ((p % 1 < 0.3).astype(np.float32) + (q % 1 < 0.3)),
}
TEXTURES: tuple[str, ...] = tuple(_PATTERNS)


@dataclass(frozen=True)
class ClassLook:
    """How one demo class is drawn: its shape and its texture."""

    index: int
    shape: str
    texture: str
    colors: tuple[tuple[int, int, int], tuple[int, int, int]]
    frequency: float
    angle_deg: float


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    """HSV in [0,1] to an 8-bit RGB tuple."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (round(r * 255), round(g * 255), round(b * 255))


def _color_pair(hue: float) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A bright saturated colour plus a dark one at a different hue, so the texture has strong contrast."""
    return (_hsv(hue, 0.8, 0.9), _hsv(hue + 0.33, 0.7, 0.35))


def class_look(index: int) -> ClassLook:
    """Deterministic look for an ImageNet class index (use assign_looks to guarantee distinctness within a set)."""
    if not 0 <= index < 1000:
        raise ValueError(f"ImageNet class index must be in 0..999, got {index}")
    rng = np.random.default_rng(index)
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    texture = TEXTURES[int(rng.integers(len(TEXTURES)))]
    colors = _color_pair(float(rng.random()))
    return ClassLook(index, shape, texture, colors, float(rng.uniform(3.0, 6.0)), float(rng.uniform(0.0, 180.0)))


def _pick(options: tuple[str, ...], preferred: str, uses: dict[str, int]) -> str:
    """Least-used option, scanning cyclically from the preferred one (so the choice stays close to class_look)."""
    start = options.index(preferred)
    ordered = [options[(start + i) % len(options)] for i in range(len(options))]
    return min(ordered, key=lambda o: uses[o])  # min is stable: ties go to the earliest in cyclic order


def assign_looks(indices: Sequence[int]) -> dict[int, ClassLook]:
    """Looks for a set of classes with pairwise-distinct shapes and pairwise-distinct textures/colours (deterministic for the same sorted set)."""
    uniq = sorted(set(int(i) for i in indices))
    if len(uniq) > len(SHAPES):
        raise ValueError(f"assign_looks got {len(uniq)} distinct classes but only {len(SHAPES)} shapes exist")
    shape_uses, tex_uses = dict.fromkeys(SHAPES, 0), dict.fromkeys(TEXTURES, 0)
    looks: dict[int, ClassLook] = {}
    for j, idx in enumerate(uniq):
        base = class_look(idx)
        shape, texture = _pick(SHAPES, base.shape, shape_uses), _pick(TEXTURES, base.texture, tex_uses)
        shape_uses[shape] += 1
        tex_uses[texture] += 1
        # Evenly spaced hues keep colour pairs distinct even when a texture must be reused (> len(TEXTURES) classes).
        colors = _color_pair(0.13 + j / len(uniq))
        looks[idx] = ClassLook(idx, shape, texture, colors, base.frequency, base.angle_deg)
    return looks


@dataclass(frozen=True)
class Factors:
    """Known nuisance factors of one rendered image (what ImageNet-X annotates, PUG sweeps)."""

    rotation_deg: float = 0.0
    scale: float = 0.6
    offset: tuple[float, float] = (0.0, 0.0)
    brightness: float = 1.0
    hue_shift: float = 0.0
    background: str = "plain"
    background_color: tuple[int, int, int] = (200, 200, 190)
    occlusion: float = 0.0
    n_objects: int = 1
    style: str = "photo"

    def __post_init__(self) -> None:
        """Reject out-of-range factors early, so bad sweeps fail loudly instead of rendering garbage."""
        checks = {
            "style": self.style in STYLES, "background": self.background in BACKGROUNDS,
            "scale": 0.15 <= self.scale <= 0.95, "brightness": 0.3 <= self.brightness <= 1.7,
            "offset": all(-0.35 <= o <= 0.35 for o in self.offset) and len(self.offset) == 2,
            "occlusion": 0.0 <= self.occlusion <= 0.6, "n_objects": 1 <= self.n_objects <= 6,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"Factors out of range: {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)}")


def sample_factors(rng: np.random.Generator, *, difficulty: float = 0.5) -> Factors:
    """Random factors for a natural-looking image; difficulty in [0,1] widens the ranges (0 = canonical view)."""
    d = float(np.clip(difficulty, 0.0, 1.0))
    u = rng.uniform(-1.0, 1.0, 11)  # always draw the same count so streams stay aligned across difficulties
    coin = rng.random(3)
    bg = "plain" if coin[0] >= 0.7 * d else ("gradient" if coin[0] < 0.35 * d else "clutter")
    bg_rgb = np.clip(np.array([200, 200, 190]) + 40 * d * u[5:8], 0, 255).astype(int)
    return Factors(
        rotation_deg=float(180 * d * u[0]),
        scale=float(np.clip(0.6 + 0.35 * d * u[1], 0.15, 0.95)),
        offset=(float(0.3 * d * u[2]), float(0.3 * d * u[3])),
        brightness=float(1.0 + 0.6 * d * u[4]),
        hue_shift=float((0.1 * d * u[8]) % 1.0),  # small: natural photos keep roughly their colours
        background=bg,
        background_color=(int(bg_rgb[0]), int(bg_rgb[1]), int(bg_rgb[2])),
        occlusion=float(0.5 * d * abs(u[9])) if coin[1] < 0.5 * d else 0.0,
        n_objects=2 + min(2, int(3 * abs(u[10]))) if coin[2] < 0.2 * d else 1,  # 2..4 copies
    )


def _background(f: Factors, side: int, seed: int) -> Image.Image:
    """Supersampled background canvas; sketches are always on white, like ImageNet-Sketch."""
    if f.style == "sketch":
        return Image.new("RGB", (side, side), (255, 255, 255))
    base = np.asarray(f.background_color, dtype=np.float32)
    if f.background == "gradient":
        # Diagonal light-to-dark ramp; it is smooth, so compute it at 1/_SS resolution and upsample (cheaper).
        n = side // _SS
        t = (np.arange(n, dtype=np.float32)[:, None] + np.arange(n, dtype=np.float32)[None, :]) / (2 * n)
        arr = np.clip(base * (1.2 - 0.65 * t[..., None]), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "RGB").resize((side, side), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (side, side), tuple(int(c) for c in base))
    if f.background == "clutter":
        _draw_clutter(canvas, base, np.random.default_rng([seed, 1]))
    return canvas


def _draw_clutter(canvas: Image.Image, base: np.ndarray, rng: np.random.Generator) -> None:
    """Small random distractor shapes and lines in muted colours around the background colour."""
    side = canvas.size[0]
    draw = ImageDraw.Draw(canvas)
    for _ in range(16):
        kind = int(rng.integers(3))
        x, y = rng.uniform(0, side, 2)
        r = float(rng.uniform(0.03, 0.08)) * side
        color = tuple(int(c) for c in np.clip(base + rng.integers(-80, 80, 3), 0, 255))
        box = (x - r, y - r, x + r, y + r)
        if kind == 0:
            draw.ellipse(box, fill=color)
        elif kind == 1:
            draw.rectangle(box, fill=color)
        else:
            a = rng.uniform(0, 2 * math.pi)
            draw.line((x, y, x + 2 * r * math.cos(a), y + 2 * r * math.sin(a)), fill=color, width=max(1, side // 100))


def _layout(f: Factors, side: int, seed: int) -> list[tuple[float, float, float]]:
    """Object centres and radii in canvas pixels; copies go in distinct grid cells so they never overlap."""
    ox, oy = f.offset
    if f.n_objects == 1:
        return [((0.5 + ox) * side, (0.5 + oy) * side, f.scale * side / 2)]
    cols = math.ceil(math.sqrt(f.n_objects))
    rows = math.ceil(f.n_objects / cols)
    cw, ch = 0.9 / cols, 0.9 / rows
    diam = min(f.scale, 0.85 * min(cw, ch))  # jitter <= 0.07 cell keeps circumscribed circles disjoint
    rng = np.random.default_rng([seed, 2])
    cells = sorted(rng.permutation(rows * cols)[: f.n_objects].tolist())
    out = []
    for c in cells:
        jx, jy = rng.uniform(-0.07, 0.07, 2)
        cx = 0.05 + (c % cols + 0.5 + jx) * cw + ox
        cy = 0.05 + (c // cols + 0.5 + jy) * ch + oy
        out.append((cx * side, cy * side, diam * side / 2))
    return out


def _rot(deg: float) -> np.ndarray:
    """Matrix M (world = M @ p) turning shapes counter-clockwise on screen, where y points down."""
    a = math.radians(deg)
    return np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])


def _texture(look: ClassLook, colors: np.ndarray, box: tuple[int, int, int, int],
             obj: tuple[float, float, float], rot_deg: float) -> Image.Image:
    """Texture over the crop box, in the object's frame so it rotates and scales with the object."""
    x0, y0, x1, y1 = box
    cx, cy, r = obj
    dx = ((np.arange(x0, x1, dtype=np.float32) + 0.5 - cx) / r)[None, :]
    dy = ((np.arange(y0, y1, dtype=np.float32) + 0.5 - cy) / r)[:, None]
    # Canvas -> texture frame in one 2x2 map: undo the object rotation (M^-1 = M.T), then turn by the texture
    # angle and scale so 'frequency' periods span the object's diameter (2 units). Broadcasting a (1,w) row
    # against a (h,1) column builds each of p, q with a single full-size add.
    to_tex = (look.frequency / 2) * _rot(look.angle_deg) @ _rot(rot_deg).T
    a, b, c, d = (float(x) for x in to_tex.ravel())  # python floats keep the arrays float32 (NEP 50)
    p, q = a * dx + b * dy, c * dx + d * dy
    t = np.asarray(_PATTERNS[look.texture](p, q, look.index), dtype=np.float32)
    tex = Image.new("RGB", (x1 - x0, y1 - y0), tuple(int(c) for c in colors[0]))
    tex.paste(tuple(int(c) for c in colors[1]), None, Image.fromarray((t * 255 + 0.5).astype(np.uint8), "L"))
    return tex


def _shifted_colors(colors: Sequence[tuple[int, int, int]], shift: float) -> np.ndarray:
    """Texture colours rotated in hue by `shift` turns (2 x 3 float array)."""
    out = []
    for c in colors:
        h, s, v = colorsys.rgb_to_hsv(*(x / 255 for x in c))
        out.append(_hsv(h + shift, s, v))
    return np.asarray(out, dtype=np.float32)


def _draw_object(canvas: Image.Image, shape_look: ClassLook, texture_look: ClassLook, colors: np.ndarray,
                 f: Factors, obj: tuple[float, float, float]) -> None:
    """Draw one copy of the object (fill by style, outline, occluder) onto the supersampled canvas."""
    side = canvas.size[0]
    cx, cy, r = obj
    polys = [(pts @ _rot(f.rotation_deg).T * r + (cx, cy), hole) for pts, hole in _SHAPE_POLYS[shape_look.shape]]
    box = (max(0, math.floor(cx - r) - 1), max(0, math.floor(cy - r) - 1),
           min(side, math.ceil(cx + r) + 1), min(side, math.ceil(cy + r) + 1))
    if box[2] <= box[0] or box[3] <= box[1]:
        return  # entirely off-canvas
    mask = Image.new("L", (box[2] - box[0], box[3] - box[1]), 0)
    mdraw = ImageDraw.Draw(mask)
    for pts, hole in polys:
        mdraw.polygon((pts - box[:2]).ravel().tolist(), fill=0 if hole else 255)
    if f.style == "photo":
        canvas.paste(_texture(texture_look, colors, box, obj, f.rotation_deg), box[:2], mask)
    elif f.style == "rendition":
        canvas.paste(tuple(int(c) for c in colors[0]), box, mask)
    if f.style != "photo":
        width = max(_SS, round(r * (0.07 if f.style == "sketch" else 0.12)))
        draw = ImageDraw.Draw(canvas)
        for pts, _ in polys:
            draw.line([tuple(pt) for pt in np.vstack([pts, pts[:1]])], fill=(0, 0, 0), width=width, joint="curve")
    bbox = mask.getbbox()
    if f.occlusion > 0 and bbox:
        # Vertical grey bar over the middle of the visible bbox, full height: covers `occlusion` of its area.
        bx0, by0, bx1, by1 = (bbox[0] + box[0], bbox[1] + box[1], bbox[2] + box[0], bbox[3] + box[1])
        mid, half = (bx0 + bx1) / 2, f.occlusion * (bx1 - bx0) / 2
        if round(mid + half) > round(mid - half):  # PIL rectangles are inclusive, hence the -1
            ImageDraw.Draw(canvas).rectangle((round(mid - half), by0, round(mid + half) - 1, by1 - 1), fill=_OCCLUDER)


def render(shape_look: ClassLook, texture_look: ClassLook, factors: Factors, *, size: int = 64, seed: int = 0) -> Image.Image:
    """Draw shape_look's shape filled with texture_look's texture under factors; RGB image of size x size, deterministic in (inputs, seed)."""
    if size < 8:
        raise ValueError(f"size must be >= 8, got {size}")
    side = size * _SS
    canvas = _background(factors, side, seed)
    colors = _shifted_colors(texture_look.colors, factors.hue_shift % 1.0)
    for obj in _layout(factors, side, seed):
        _draw_object(canvas, shape_look, texture_look, colors, factors, obj)
    img = canvas.resize((size, size), Image.Resampling.LANCZOS)
    if factors.brightness != 1.0:
        arr = np.asarray(img, dtype=np.float32) * factors.brightness + 0.5
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    return img


def imagenet_x_factors(factors: Factors, canonical: Factors = Factors()) -> dict[str, bool]:
    """ImageNet-X-style binary factor flags derived from known factors (16 keys)."""
    f, c = factors, canonical
    rot = abs(f.rotation_deg - c.rotation_deg) % 360
    hue = abs(f.hue_shift - c.hue_shift) % 1.0
    # The object's circumscribed circle (diameter = scale) leaving the canvas on either axis means a partial view.
    partial = any(abs(o) + f.scale / 2 > 0.5 + 1e-9 for o in f.offset)
    return {
        "pose": min(rot, 360 - rot) > 30,
        "background": f.background != c.background,
        # pattern/shape/subcategory/texture/person_blocking: the renderer never varies these within a class
        # (a class has one shape and one texture, and there are no people), so they are always False.
        "pattern": False,
        "color": min(hue, 1 - hue) > 0.08,
        "smaller": f.scale < 0.4,
        "shape": False,
        "partial_view": partial,
        "subcategory": False,
        "texture": False,
        "larger": f.scale > 0.85,
        "darker": f.brightness < 0.7,
        "object_blocking": f.occlusion > 0.15,
        "person_blocking": False,
        "style": f.style != c.style,
        "brighter": f.brightness > 1.3,
        "multiple_objects": f.n_objects > 1,
    }
