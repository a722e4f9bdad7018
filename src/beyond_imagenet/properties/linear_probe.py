"""Transferability: VTAB-1k (Zhai et al. 2019) linear probe on frozen, L2-normalised features, as in LAION's
CLIP_benchmark, which the paper (Vishniakov et al. 2024) says it follows.

The probe is a linear layer with bias, trained with cross-entropy and AdamW (lr 0.1, betas 0.9/0.999, eps 1e-8,
decoupled weight decay on weight and bias, as `torch.optim.AdamW(probe.parameters())` does), a cosine schedule
over all steps without warmup (CLIP_benchmark passes warmup 0), 10 epochs, batch 64 (the last, partial batch
kept). Initialisation is `torch.nn.Linear`'s (weight and bias U(-1/sqrt(D), 1/sqrt(D))).

Weight decay search, exactly CLIP_benchmark's: the grid is logspace(-6, 2, 97) (12 points per decade). Coarse
stage: the 7 grid points logspace(-6, 2, 7) (indices 0, 16, ..., 96). Then, for span in 8, 4, 2, 1, the
candidates [peak - span, peak, peak + span] (clipped to the grid) are scored and the best becomes the peak.
Each candidate is trained on train800 and scored by top-1 on val200; ties go to the first candidate in the
order scored (increasing wd in the coarse stage, then left, peak, right), as CLIP_benchmark's strict `>` does.
(One deliberate difference: when every candidate of a stage scores 0%, CLIP_benchmark jumps to grid index 0;
here the first candidate of the stage is kept.) The chosen wd is then used to retrain on train800 + val200,
and top-1 on the test split is reported. A candidate already scored is not retrained: every candidate starts
from the same seed, so CLIP_benchmark's retraining of the peak reproduces the same accuracy.

Speed: the candidates of one stage are trained as ONE batched probe: their weights sit side by side in a
[D, K*C] matrix, share the initialisation and the mini-batch order (as CLIP_benchmark's re-seeded runs do),
and AdamW's decoupled decay (param *= 1 - lr*wd) is applied per column by hand before torch's fused AdamW
update (run with weight_decay 0). AdamW is elementwise, so this equals K separate runs up to float32 round-off.
Everything stays a tensor (no DataLoader, no autograd: the softmax cross-entropy gradient is written out), and
torch runs on PROBE_THREADS threads (see there why).

Determinism: all randomness (initialisation, shuffling) comes from one `torch.Generator` seeded with `seed`, so
the global torch RNG is neither used nor changed (no `torch.manual_seed` side effect on the caller). Only
deterministic CPU ops are used (they pass under `torch.use_deterministic_algorithms(True)`), on a fixed number of
threads; the same seed with the same torch build and CPU gives bit-identical results.

Large weight decays: with lr 0.1, wd above 20 makes the decay factor 1 - lr*wd < -1, so those probes diverge
(as they do in CLIP_benchmark); rows with non-finite logits are scored as wrong, so such candidates lose.

VTAB split files: `train800.txt`, `val200.txt`, `train800val200.txt`, `test.txt`, one `relative/path label`
per line; the paths are relative to the task folder, like the cache ids.

Summary rows (`transfer_summary_rows`): group means (keys `natural`, `specialized`, `structured`, and `other`
for tasks outside VTAB) over the tasks present in each group; `average_19` = mean of the 19 VTAB tasks, only
when all 19 are present; otherwise (or when extra tasks are present) `average` = mean over all present tasks.
For summary rows, `n` is the number of tasks averaged.
"""

from __future__ import annotations

import logging
import math
import posixpath
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..cache import CachedOutputs, merge_parts
from ..rows import metric_frame
from ..samples import read_split_list

log = logging.getLogger(__name__)

PROPERTY = "transfer"
METRIC_TOP1 = "linear_probe_top1_pct"
METRIC_WEIGHT_DECAY = "weight_decay"
DATASET_PREFIX = "vtab_"  # per-task rows: dataset "vtab_<task>", key "<group>/<task>"
SUMMARY_DATASET = "vtab"

LEARNING_RATE = 0.1
EPOCHS = 10
BATCH_SIZE = 64
ADAM_BETAS = (0.9, 0.999)  # torch.optim.AdamW defaults, which CLIP_benchmark keeps
ADAM_EPS = 1e-8
WEIGHT_DECAY_GRID = np.logspace(-6, 2, 97)  # CLIP_benchmark's grid: 12 points per decade
COARSE_INDICES = tuple(range(0, 97, 16))  # = logspace(-6, 2, 7) on the grid
REFINE_SPANS = (8, 4, 2, 1)  # grid steps either side of the peak, halved each stage
# One thread: a probe step is too small to gain from more, oversubscribed OpenMP threads (parallel workflow
# jobs on few cores) slow it ~100x, and a fixed count keeps results independent of the caller's setting.
PROBE_THREADS = 1

VTAB_GROUPS: dict[str, tuple[str, ...]] = {
    "natural": ("caltech101", "cifar100", "dtd", "flowers102", "pets", "sun397", "svhn"),
    "specialized": ("camelyon", "eurosat", "resisc45", "retinopathy"),
    "structured": ("clevr_count", "clevr_dist", "dmlab", "dsprites_loc", "dsprites_ori", "kitti_dist",
                   "snorb_azim", "snorb_elev"),
}
OTHER_GROUP = "other"  # group of a task name outside the 19 VTAB-1k tasks
VTAB_TASKS = tuple(task for tasks in VTAB_GROUPS.values() for task in tasks)
AVERAGE_ALL_KEY = "average_19"
AVERAGE_PRESENT_KEY = "average"
SPLIT_NAMES = ("train800", "val200", "train800val200", "test")
SPLIT_SUFFIX = ".txt"

Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class LinearProbeResult:
    """Outcome of one probe: test top-1 (%), the chosen weight decay, and val top-1 (%) of every wd scored."""

    test_top1_pct: float
    weight_decay: float
    val_top1_by_wd: dict[float, float] = field(default_factory=dict)


# --- training -------------------------------------------------------------------------------------------------

def normalize_features(features: np.ndarray) -> torch.Tensor:
    """Rows scaled to unit L2 norm in float32 (CLIP_benchmark's Featurizer; a zero row stays zero)."""
    x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    return torch.nn.functional.normalize(x, dim=1)


def init_params(dim: int, num_classes: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.nn.Linear's default init, weight as [D, C]: weight and bias U(-1/sqrt(D), 1/sqrt(D))."""
    bound = 1.0 / math.sqrt(dim)
    weight = torch.empty(num_classes, dim).uniform_(-bound, bound, generator=generator).T.contiguous()
    bias = torch.empty(num_classes).uniform_(-bound, bound, generator=generator)
    return weight, bias


@contextmanager
def _probe_threads() -> Iterator[None]:
    """Run with PROBE_THREADS torch threads, then restore the caller's setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(PROBE_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def cosine_lr(step: int, total_steps: int) -> float:
    """CLIP_benchmark's cosine schedule without warmup: lr at 0-based step `step` of `total_steps`."""
    return 0.5 * (1.0 + math.cos(math.pi * step / total_steps)) * LEARNING_RATE


def batch_orders(n: int, generator: torch.Generator) -> list[torch.Tensor]:
    """The row order of every epoch (a fresh permutation per epoch, like a shuffling DataLoader)."""
    return [torch.randperm(n, generator=generator) for _ in range(EPOCHS)]


def _optimizer(weight: torch.Tensor, bias: torch.Tensor) -> torch.optim.AdamW:
    """torch's fused AdamW on weight and bias, its own decay off: the per-candidate decay is applied by hand."""
    return torch.optim.AdamW([weight, bias], lr=LEARNING_RATE, betas=ADAM_BETAS, eps=ADAM_EPS, weight_decay=0.0,
                             fused=True)


def train_probes(x: torch.Tensor, y: torch.Tensor, weight_decays: Sequence[float], num_classes: int,
                 seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Train one probe per weight decay, batched: returns weight [D, K*C] and bias [K*C] (candidate k = block k)."""
    n, k = x.shape[0], len(weight_decays)
    generator = torch.Generator().manual_seed(seed)
    weight0, bias0 = init_params(x.shape[1], num_classes, generator)
    weight, bias = weight0.repeat(1, k), bias0.repeat(k)
    weight.grad, bias.grad = torch.empty_like(weight), torch.empty_like(bias)
    optimizer = _optimizer(weight, bias)
    wd = torch.tensor(list(weight_decays), dtype=torch.float64).repeat_interleave(num_classes)
    onehot = torch.nn.functional.one_hot(y, num_classes).to(torch.float32)
    total, step = EPOCHS * math.ceil(n / BATCH_SIZE), 0
    with torch.no_grad(), _probe_threads():
        for order in batch_orders(n, generator):
            for rows in order.split(BATCH_SIZE):
                lr = cosine_lr(step, total)
                step += 1
                xb = x[rows]
                # d(mean CE)/d(logits) = (softmax - onehot) / batch, for every candidate at once
                grad = torch.softmax(torch.addmm(bias, xb, weight).view(-1, k, num_classes), dim=2)
                grad.sub_(onehot[rows].unsqueeze(1)).div_(rows.numel())
                grad = grad.view(-1, k * num_classes)
                torch.mm(xb.T, grad, out=weight.grad)
                torch.sum(grad, dim=0, out=bias.grad)
                # AdamW's decoupled decay, param *= 1 - lr*wd, before the Adam update (torch's order)
                decay = (1.0 - lr * wd).to(torch.float32)
                weight.mul_(decay)
                bias.mul_(decay)
                optimizer.param_groups[0]["lr"] = lr
                optimizer.step()
    weight.grad, bias.grad = None, None
    return weight, bias


def top1_pct(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
             num_classes: int) -> np.ndarray:
    """Top-1 (%) of each of the K batched probes; one matmul; a row with a non-finite logit counts as wrong."""
    if y.numel() == 0:
        raise ValueError("cannot score a probe on an empty split; every split needs at least one row")
    logits = torch.addmm(bias, x, weight).view(x.shape[0], -1, num_classes)
    correct = (logits.argmax(dim=2) == y.unsqueeze(1)) & torch.isfinite(logits).all(dim=2)
    return (100.0 * correct.to(torch.float64).mean(dim=0)).numpy()


# --- weight decay search ----------------------------------------------------------------------------------------

def _best_of(indices: Sequence[int], scores: Mapping[int, float]) -> int:
    """First index in scoring order with the highest score (CLIP_benchmark's strict '>' tie rule)."""
    best = indices[0]
    for index in indices[1:]:
        if scores[index] > scores[best]:
            best = index
    return best


def coarse_to_fine(score: Callable[[list[int]], Mapping[int, float]], grid_size: int = len(WEIGHT_DECAY_GRID),
                   coarse: Sequence[int] = COARSE_INDICES, spans: Sequence[int] = REFINE_SPANS) -> tuple[int, dict]:
    """CLIP_benchmark's search over grid indices; `score` gets the unscored indices of a stage, returns their scores.

    Returns the chosen index and the scores of every index scored.
    """
    scores: dict[int, float] = {}

    def run_stage(candidates: Sequence[int]) -> int:
        """Score the stage's new candidates; its best index (duplicates at the grid edge scored once)."""
        ordered = list(dict.fromkeys(candidates))
        missing = [index for index in ordered if index not in scores]
        if missing:
            scores.update(score(missing))
        return _best_of(ordered, scores)

    peak = run_stage(coarse)
    for span in spans:
        peak = run_stage([max(peak - span, 0), peak, min(peak + span, grid_size - 1)])
    return peak, scores


def search_weight_decay(train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor],
                        num_classes: int, seed: int) -> tuple[float, dict[float, float]]:
    """Weight decay with the best val top-1 (coarse-to-fine on WEIGHT_DECAY_GRID) and val top-1 of every wd tried."""
    def score(indices: list[int]) -> dict[int, float]:
        """Val top-1 of the grid indices, trained as one batched probe."""
        weight, bias = train_probes(*train, [float(WEIGHT_DECAY_GRID[i]) for i in indices], num_classes, seed)
        return dict(zip(indices, top1_pct(*val, weight, bias, num_classes).tolist()))

    peak, scores = coarse_to_fine(score)
    by_wd = {float(WEIGHT_DECAY_GRID[i]): scores[i] for i in sorted(scores)}
    return float(WEIGHT_DECAY_GRID[peak]), by_wd


# --- public entry point ----------------------------------------------------------------------------------------

def _as_split(name: str, x: np.ndarray, y: np.ndarray, dim: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Check one split's shapes; labels as int64."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"{name} split: features must be [N, D] and labels [N], got {x.shape} and {y.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} split is empty; the probe needs train, val and test rows")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} split has feature dimension {x.shape[1]}, train has {dim}; use one model's features")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} split labels have dtype {y.dtype}; pass integer class indices")
    return x, y.astype(np.int64)


def _num_classes(labels: Sequence[np.ndarray], num_classes: int | None) -> int:
    """Given class count (checked against the labels) or max label + 1."""
    low, high = min(int(y.min()) for y in labels), max(int(y.max()) for y in labels)
    if low < 0:
        raise ValueError(f"label {low} is negative; labels must be class indices 0..C-1")
    if num_classes is None:
        return high + 1
    if high >= num_classes:
        raise ValueError(f"label {high} is outside 0..{num_classes - 1}; pass num_classes > {high} or fix the labels")
    return num_classes


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray,
                 test_x: np.ndarray, test_y: np.ndarray, num_classes: int | None = None,
                 seed: int = 0) -> LinearProbeResult:
    """VTAB linear probe (CLIP_benchmark protocol): wd searched on val, retrained on train+val, top-1 on test."""
    train_x, train_y = _as_split("train", train_x, train_y, None)
    val_x, val_y = _as_split("val", val_x, val_y, train_x.shape[1])
    test_x, test_y = _as_split("test", test_x, test_y, train_x.shape[1])
    classes = _num_classes([train_y, val_y, test_y], num_classes)
    train = (normalize_features(train_x), torch.from_numpy(train_y))
    val = (normalize_features(val_x), torch.from_numpy(val_y))
    with torch.no_grad(), _probe_threads():
        weight_decay, by_wd = search_weight_decay(train, val, classes, seed)
        merged_x, merged_y = torch.cat([train[0], val[0]]), torch.cat([train[1], val[1]])
        weight, bias = train_probes(merged_x, merged_y, [weight_decay], classes, seed)
        test = top1_pct(normalize_features(test_x), torch.from_numpy(test_y), weight, bias, classes)
    log.debug("linear probe: wd %.3g (val %.2f%%), test top-1 %.2f%%", weight_decay, by_wd[weight_decay], test[0])
    return LinearProbeResult(test_top1_pct=float(test[0]), weight_decay=weight_decay, val_top1_by_wd=by_wd)


# --- VTAB tasks and split files ---------------------------------------------------------------------------------

def task_group(task: str) -> str:
    """VTAB group of a task name; a name outside the 19 VTAB-1k tasks belongs to group 'other'."""
    for group, tasks in VTAB_GROUPS.items():
        if task in tasks:
            return group
    return OTHER_GROUP


def task_key(task: str) -> str:
    """Paper key of a task, '<group>/<task>' (e.g. 'natural/caltech101'; unknown tasks 'other/<task>')."""
    return f"{task_group(task)}/{task}"


def _row_index(ids: Sequence[str]) -> dict[str, int]:
    """Cache id -> row, each id normalised like the split lists; a duplicate id is an error."""
    index: dict[str, int] = {}
    for row, name in enumerate(ids):
        key = posixpath.normpath(str(name))
        if key in index:
            raise ValueError(f"cache id {key!r} appears in rows {index[key]} and {row}; ids must be unique")
        index[key] = row
    return index


def _select(split_file: Path, entries: list[tuple[str, int]], index: Mapping[str, int],
            labels: np.ndarray) -> np.ndarray:
    """Cache rows of a split's entries; a missing path or a label disagreement is a ValueError naming the path."""
    missing = [name for name, _ in entries if name not in index]
    if missing:
        raise ValueError(f"{split_file}: {len(missing)} listed path(s) are not in the feature cache, first "
                         f"{missing[0]!r}; extract features for the same task folder the split lists refer to")
    rows = np.array([index[name] for name, _ in entries], dtype=np.int64)
    listed = np.array([label for _, label in entries], dtype=np.int64)
    wrong = np.flatnonzero(labels[rows] != listed)
    if wrong.size:
        first = wrong[0]
        raise ValueError(f"{split_file}: path {entries[first][0]!r} has label {listed[first]} in the list but "
                         f"{labels[rows[first]]} in the cache; the cache was built with another label mapping")
    return rows


def split_rows(ids: Sequence[str], features: np.ndarray, labels: np.ndarray, root: Path) -> dict[str, Split]:
    """Features and labels of each VTAB split file found in `root`, rows picked from the cache by id."""
    root = Path(root)
    features, labels = np.asarray(features), np.asarray(labels, dtype=np.int64)
    if not (len(ids) == features.shape[0] == labels.shape[0]):
        raise ValueError(f"cache has {len(ids)} ids, {features.shape[0]} feature rows and {labels.shape[0]} labels")
    index = _row_index(ids)
    splits: dict[str, Split] = {}
    for split in SPLIT_NAMES:
        split_file = root / f"{split}{SPLIT_SUFFIX}"
        if split_file.is_file():
            rows = _select(split_file, read_split_list(split_file), index, labels)
            splits[split] = (features[rows], labels[rows])
    if not splits:
        raise ValueError(f"no VTAB split file in {root}; expected some of "
                         f"{[name + SPLIT_SUFFIX for name in SPLIT_NAMES]}")
    return splits


# --- tidy rows --------------------------------------------------------------------------------------------------

def transfer_rows(model: str, task: str, result: LinearProbeResult, n_test: int) -> pd.DataFrame:
    """Tidy rows of one task: test top-1 (%) and the chosen weight decay, key '<group>/<task>'."""
    base = {"model": model, "property": PROPERTY, "dataset": f"{DATASET_PREFIX}{task}", "key": task_key(task),
            "n": n_test}
    rows = [{**base, "metric": METRIC_TOP1, "value": result.test_top1_pct},
            {**base, "metric": METRIC_WEIGHT_DECAY, "value": result.weight_decay}]
    return metric_frame(rows)


def _task_scores(model: str, per_task: pd.DataFrame) -> pd.Series:
    """Test top-1 per task name of one model; a task twice is an error."""
    rows = per_task[(per_task["model"] == model) & (per_task["metric"] == METRIC_TOP1)
                    & per_task["key"].str.contains("/", regex=False)]
    tasks = rows["key"].str.split("/").str[-1]
    if tasks.duplicated().any():
        raise ValueError(f"model {model!r} has several top-1 rows for task {tasks[tasks.duplicated()].iloc[0]!r}; "
                         "pass one row per task")
    return pd.Series(rows["value"].to_numpy(dtype=np.float64), index=tasks.to_numpy())


def transfer_summary_rows(model: str, per_task: pd.DataFrame) -> pd.DataFrame:
    """Group means over present tasks and average_19 (all 19 present) or average (otherwise); n = tasks averaged."""
    scores = _task_scores(model, per_task)
    if scores.empty:
        raise ValueError(f"no {METRIC_TOP1} task rows for model {model!r}; compute the per-task rows first")
    groups = pd.Series([task_group(task) for task in scores.index], index=scores.index)
    means = {group: scores[groups == group] for group in [*VTAB_GROUPS, OTHER_GROUP] if (groups == group).any()}
    if set(scores.index) == set(VTAB_TASKS):
        means[AVERAGE_ALL_KEY] = scores
    else:
        absent = [task for task in VTAB_TASKS if task not in scores.index]
        log.warning("model %s: %d of the 19 VTAB tasks missing (%s) or extra tasks present; writing '%s' over "
                    "the %d present tasks instead of '%s'", model, len(absent), ", ".join(absent) or "none",
                    AVERAGE_PRESENT_KEY, scores.size, AVERAGE_ALL_KEY)
        means[AVERAGE_PRESENT_KEY] = scores
    rows = [{"model": model, "property": PROPERTY, "dataset": SUMMARY_DATASET, "key": key, "metric": METRIC_TOP1,
             "value": float(values.mean()), "n": int(values.size)} for key, values in means.items()]
    return metric_frame(rows)


def compute(model: str, caches: list[CachedOutputs], settings: dict, datasets: dict) -> pd.DataFrame:
    """Property entry point: linear probe per task (train800 -> val200 picks the weight decay; train800val200 -> test)."""
    frames = []
    for (dataset, _), cache in merge_parts(caches).items():
        splits = split_rows(list(cache.ids), cache.features, cache.labels, Path(datasets[dataset]["root"]))
        result = linear_probe(*splits["train800"], *splits["val200"], *splits["test"])
        frames.append(transfer_rows(model, dataset.removeprefix(DATASET_PREFIX), result, len(splits["test"][1])))
    per_task = pd.concat(frames, ignore_index=True)
    return pd.concat([per_task, transfer_summary_rows(model, per_task)], ignore_index=True)
