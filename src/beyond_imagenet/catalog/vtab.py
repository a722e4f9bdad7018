"""The 19 VTAB-1k tasks (Zhai et al. 2019) in their three groups, as the paper's transfer figure orders them."""

from __future__ import annotations

VTAB_GROUPS: dict[str, tuple[str, ...]] = {
    "natural": ("caltech101", "cifar100", "dtd", "flowers102", "pets", "sun397", "svhn"),
    "specialized": ("camelyon", "eurosat", "resisc45", "retinopathy"),
    "structured": ("clevr_count", "clevr_dist", "dmlab", "dsprites_loc", "dsprites_ori", "kitti_dist",
                   "snorb_azim", "snorb_elev"),
}
OTHER_GROUP = "other"  # group of a task outside the 19 VTAB-1k tasks
VTAB_TASKS = tuple(task for tasks in VTAB_GROUPS.values() for task in tasks)
# Classes of each task as task_adaptation defines it (its labels are 0..n-1).
VTAB_CLASSES: dict[str, int] = {
    "caltech101": 102, "cifar100": 100, "dtd": 47, "flowers102": 102, "pets": 37, "sun397": 397, "svhn": 10,
    "camelyon": 2, "eurosat": 10, "resisc45": 45, "retinopathy": 5, "clevr_count": 8, "clevr_dist": 6, "dmlab": 6,
    "dsprites_loc": 16, "dsprites_ori": 16, "kitti_dist": 4, "snorb_azim": 18, "snorb_elev": 9,
}


def task_group(task: str) -> str:
    """VTAB group of a task name; a name outside the 19 VTAB-1k tasks belongs to group 'other'."""
    for group, tasks in VTAB_GROUPS.items():
        if task in tasks:
            return group
    return OTHER_GROUP
