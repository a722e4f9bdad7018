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

The VTAB task table, split files and tidy rows are in `transfer.py`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

log = logging.getLogger(__name__)

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

@dataclass(frozen=True)
class LinearProbeResult:
    """Outcome of one probe: test top-1 (%), the chosen weight decay, and val top-1 (%) of every wd scored."""

    test_top1_pct: float
    weight_decay: float
    val_top1_by_wd: dict[float, float] = field(default_factory=dict)
    test_correct: np.ndarray | None = field(default=None, compare=False)  # per test row: the final probe is right


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


def probe_correct(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                  num_classes: int) -> torch.Tensor:
    """[N, K]: row n right under probe k; one matmul; a row with a non-finite logit counts as wrong."""
    if y.numel() == 0:
        raise ValueError("cannot score a probe on an empty split; every split needs at least one row")
    logits = torch.addmm(bias, x, weight).view(x.shape[0], -1, num_classes)
    return (logits.argmax(dim=2) == y.unsqueeze(1)) & torch.isfinite(logits).all(dim=2)


def top1_pct(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
             num_classes: int) -> np.ndarray:
    """Top-1 (%) of each of the K batched probes."""
    return (100.0 * probe_correct(x, y, weight, bias, num_classes).to(torch.float64).mean(dim=0)).numpy()


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
        correct = probe_correct(normalize_features(test_x), torch.from_numpy(test_y), weight, bias, classes)[:, 0]
    test = float(100.0 * correct.to(torch.float64).mean())
    log.debug("linear probe: wd %.3g (val %.2f%%), test top-1 %.2f%%", weight_decay, by_wd[weight_decay], test)
    return LinearProbeResult(test_top1_pct=test, weight_decay=weight_decay, val_top1_by_wd=by_wd,
                             test_correct=correct.numpy())
