"""What a dataset is for: the roles a config entry declares (`datasets.<id>.role`), so no dataset id is special.

A property that needs "the ImageNet val set" or "ImageNet-C" finds it by role among the datasets it is given; the
paper's keys (robustness `imagenet_v2`, accuracy `imagenet_val`, ...) are roles, so a renamed dataset keeps its
key and its paper value. A dataset without a role is measured like any other and keyed by its id.
"""

from __future__ import annotations

from .vtab import VTAB_TASKS

# The 15 ImageNet-C benchmark corruptions (Hendrycks & Dietterich 2019), in their usual order.
IMAGENET_C_BENCHMARK = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
    "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
    "jpeg_compression",
)

# What a dataset entry can declare it is (`datasets.<id>.role`). The names are the paper's keys.
IMAGENET_VAL = "imagenet_val"
IMAGENET_V2 = "imagenet_v2"
IMAGENET_A = "imagenet_a"
IMAGENET_R = "imagenet_r"
IMAGENET_SKETCH = "imagenet_sketch"
IMAGENET_C = "imagenet_c"
IMAGENET_HARD = "imagenet_hard"
CUE_CONFLICT = "cue_conflict"
PUG_IMAGENET = "pug_imagenet"
IMAGENET_O = "imagenet_o"
OBJECTNET = "objectnet"
IMAGENET_9 = "imagenet_9"
VTAB_PREFIX = "vtab_"  # vtab_<task>: one of the 19 VTAB-1k tasks

DATASET_ROLES: dict[str, str] = {
    IMAGENET_VAL: "the ILSVRC-2012 validation images: ImageNet top-1, and the set ReaL labels and ImageNet-X "
                  "annotations join to by file name",
    IMAGENET_V2: "ImageNet-V2 matched-frequency (Recht et al. 2019)",
    IMAGENET_A: "ImageNet-A, natural adversarial examples (Hendrycks et al. 2021), 200 classes",
    IMAGENET_R: "ImageNet-R, renditions (Hendrycks et al. 2021), 200 classes",
    IMAGENET_SKETCH: "ImageNet-Sketch (Wang et al. 2019)",
    IMAGENET_C: "ImageNet-C, 15 corruptions x 5 severities of the val images (Hendrycks & Dietterich 2019)",
    IMAGENET_HARD: "ImageNet-Hard (Taesiri et al. 2023), multi-label",
    CUE_CONFLICT: "model-vs-human's cue-conflict images (Geirhos et al. 2019)",
    PUG_IMAGENET: "PUG-ImageNet (Bordes et al. 2023)",
    IMAGENET_O: "ImageNet-O, out-of-distribution images for ImageNet models (Hendrycks et al. 2021)",
    OBJECTNET: "ObjectNet (Barbu et al. 2019), scored on its 113 classes that overlap ImageNet",
    IMAGENET_9: "ImageNet-9 backgrounds challenge (Xiao et al. 2021): original, only-FG, mixed-same, mixed-rand",
    **{f"{VTAB_PREFIX}{task}": f"the VTAB-1k task {task} (Zhai et al. 2019)" for task in VTAB_TASKS},
}
# robustness: the paper's "average" is over these 7 sets (ReaL relabels the imagenet_val dataset)
IMAGENET_REAL = "imagenet_real"
SHIFTED_SETS = (IMAGENET_V2, IMAGENET_A, IMAGENET_C, IMAGENET_HARD, IMAGENET_R, IMAGENET_SKETCH, IMAGENET_REAL)


def vtab_task_of(role: str | None) -> str | None:
    """The VTAB-1k task a role names (`vtab_caltech101` -> `caltech101`), or None."""
    if role and role.startswith(VTAB_PREFIX) and role.removeprefix(VTAB_PREFIX) in VTAB_TASKS:
        return role.removeprefix(VTAB_PREFIX)
    return None


def key_of(dataset_id: str, role: str | None) -> str:
    """The key of a dataset's rows: its role where it declares one (the paper's key), else its id."""
    return role or dataset_id


def datasets_of_role(datasets: dict[str, dict], role: str) -> list[str]:
    """The ids among `datasets` (id -> entry fields) that declare `role`."""
    return [dataset_id for dataset_id, entry in datasets.items() if entry.get("role") == role]
