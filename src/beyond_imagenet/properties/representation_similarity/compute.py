"""Representation similarity: layer-wise linear CKA with the minibatch unbiased HSIC estimator.

CKA (Kornblith et al., ICML 2019) between representations X (n x p) and Y (n x q) of the same images
is HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with linear kernels K = X Xᵀ, L = Y Yᵀ. Over thousands of
images and many layers the n x n Gram matrices do not fit, so, as Nguyen, Raghu and Kornblith (ICLR
2021, "Do wide and deep networks learn the same things?") do, the images are cut into minibatches,
the unbiased estimator HSIC_1 (Song et al. 2012) is averaged over them, and

    CKA_minibatch = mean_b HSIC_1(K_b, L_b) / sqrt(mean_b HSIC_1(K_b, K_b) · mean_b HSIC_1(L_b, L_b)).

Each layer's Gram matrix of a minibatch is made once and paired with every other layer's, so a
layers x layers map costs one pass over the images. Rows: model "a" (within) or "a|b" (across), key
"<layer of a>|<layer of b>", metric `cka_linear`; per model `adjacent_cka_mean` (key "summary"): the
mean CKA of consecutive layers, low when the representation changes from block to block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...store.cache import CachedOutputs
from ...store.rows import metric_frame, metric_row
from .._registry import Headline

PROPERTY = "representation_similarity"
METRIC = "cka_linear"
SUMMARY_METRIC = "adjacent_cka_mean"
SUMMARY_KEY = "summary"
DEFAULT_MINIBATCH = 256
MIN_MINIBATCH = 4  # HSIC_1 divides by n (n - 3)


@dataclass(frozen=True)
class PreparedGram:
    """A Gram matrix with its diagonal zeroed and its column sums: made once, paired with every other layer's."""

    zeroed: np.ndarray
    column_sums: np.ndarray

    @classmethod
    def of(cls, gram: np.ndarray) -> PreparedGram:
        n = gram.shape[0]
        if n < MIN_MINIBATCH:
            raise ValueError(f"HSIC_1 needs at least {MIN_MINIBATCH} images per minibatch, got {n}")
        zeroed = gram.copy()
        np.fill_diagonal(zeroed, 0.0)
        return cls(zeroed, zeroed.sum(axis=0))


def hsic1_prepared(k: PreparedGram, l: PreparedGram) -> float:
    """HSIC_1 of two prepared Gram matrices (Song et al. 2012)."""
    n = k.zeroed.shape[0]
    trace = float(np.sum(k.zeroed * l.zeroed))
    sums = k.column_sums.sum() * l.column_sums.sum() / ((n - 1) * (n - 2))
    return (trace + sums - 2.0 * float(k.column_sums @ l.column_sums) / (n - 2)) / (n * (n - 3))


def hsic1(gram_x: np.ndarray, gram_y: np.ndarray) -> float:
    """Unbiased HSIC estimator HSIC_1 of two n x n Gram matrices (Song et al. 2012; n >= 4)."""
    return hsic1_prepared(PreparedGram.of(gram_x), PreparedGram.of(gram_y))


def minibatches(n: int, size: int) -> list[np.ndarray]:
    """Near-equal contiguous minibatches of at most `size` (none smaller than MIN_MINIBATCH) over n images."""
    if n < MIN_MINIBATCH:
        raise ValueError(f"CKA needs at least {MIN_MINIBATCH} images, got {n}")
    count = max(1, -(-n // max(size, MIN_MINIBATCH)))
    while count > 1 and n // count < MIN_MINIBATCH:
        count -= 1
    return [np.arange(n)[part] for part in np.array_split(np.arange(n), count)]


def cka_matrix(layers_a: Sequence[np.ndarray], layers_b: Sequence[np.ndarray],
               batch_size: int = DEFAULT_MINIBATCH) -> np.ndarray:
    """Linear minibatch CKA of every layer of A with every layer of B (rows: images, the same for all)."""
    n = layers_a[0].shape[0]
    if any(x.shape[0] != n for x in (*layers_a, *layers_b)):
        raise ValueError("every layer must hold the same images (rows)")
    cross = np.zeros((len(layers_a), len(layers_b)))
    self_a, self_b = np.zeros(len(layers_a)), np.zeros(len(layers_b))
    for rows in minibatches(n, batch_size):
        grams_a = [PreparedGram.of(_gram(x[rows])) for x in layers_a]
        grams_b = grams_a if layers_b is layers_a else [PreparedGram.of(_gram(y[rows])) for y in layers_b]
        self_a += [hsic1_prepared(g, g) for g in grams_a]
        self_b += [hsic1_prepared(g, g) for g in grams_b]
        for i, ga in enumerate(grams_a):
            for j, gb in enumerate(grams_b):
                cross[i, j] += hsic1_prepared(ga, gb)
    return cross / np.sqrt(np.outer(self_a, self_b))


def linear_cka(x: np.ndarray, y: np.ndarray, batch_size: int = DEFAULT_MINIBATCH) -> float:
    """Linear minibatch CKA of two representations of the same images."""
    return float(cka_matrix([x], [y], batch_size)[0, 0])


def _gram(features: np.ndarray) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    return x @ x.T


def _layers(cache: CachedOutputs, pooling: str) -> tuple[list[str], list[np.ndarray]]:
    if not cache.layers:
        raise ValueError(f"cache of {cache.identity.get('model')!r} holds no layer features; enable "
                         f"'{PROPERTY}' so the extraction records them")
    names = list(cache.layers)
    return names, [cache.layers[name].get(pooling, cache.layers[name]["mean"]) for name in names]


def _matrix_rows(label: str, dataset: str, names_a: list[str], names_b: list[str], matrix: np.ndarray,
                 n: int) -> list[dict]:
    return [metric_row(label, PROPERTY, dataset, f"{a}|{b}", METRIC, matrix[i, j], n)
            for i, a in enumerate(names_a) for j, b in enumerate(names_b)]


def table_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The layer x layer maps feed the figures; the table keeps the per-model summaries."""
    return metrics[metrics["metric"] == SUMMARY_METRIC]


def compute(caches_by_model: Mapping[str, list[CachedOutputs]], settings: dict, datasets: dict) -> pd.DataFrame:
    """Property entry point: CKA within each model (layer x layer) and across every pair of models."""
    pooling, batch = settings.get("token_pooling", "mean"), settings.get("minibatch", DEFAULT_MINIBATCH)
    if any(len(caches) != 1 for caches in caches_by_model.values()):
        raise ValueError(f"{PROPERTY} reads one unsharded dataset per model; got {[len(c) for c in caches_by_model.values()]}"
                         " caches (do not shard its dataset, and give the property one dataset)")
    layers = {model: _layers(caches[0], pooling) for model, caches in caches_by_model.items()}
    rows_of = {model: caches[0].layer_rows for model, caches in caches_by_model.items()}
    first = next(iter(rows_of.values()))
    if any(not np.array_equal(r, first) for r in rows_of.values()):
        raise ValueError("the models' layer features were recorded on different images; extract them with the "
                         "same representation_similarity settings")
    dataset = next(iter(caches_by_model.values()))[0].identity["dataset"]
    rows, n = [], len(first)
    models = list(layers)
    for model in models:
        names, features = layers[model]
        matrix = cka_matrix(features, features, batch)
        rows += _matrix_rows(model, dataset, names, names, matrix, n)
        adjacent = np.diag(matrix, k=1)
        rows.append(metric_row(model, PROPERTY, dataset, SUMMARY_KEY, SUMMARY_METRIC,
                               float(adjacent.mean()) if adjacent.size else np.nan, n))
    for i, a in enumerate(models):
        for b in models[i + 1:]:
            matrix = cka_matrix(layers[a][1], layers[b][1], batch)
            rows += _matrix_rows(f"{a}|{b}", dataset, layers[a][0], layers[b][0], matrix, n)
    return metric_frame(rows)


def headlines(settings: dict, datasets: dict) -> list[Headline]:
    """None: it compares models (the summary shows one value per model)."""
    return []
