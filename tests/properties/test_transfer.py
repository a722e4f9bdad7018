"""VTAB linear probe: training against torch's own AdamW, batched = alone, the wd search, determinism, split
files, tidy/summary rows by hand, and a figure smoke test."""

import logging
import math

import numpy as np
import pandas as pd
import pytest
import torch

from beyond_imagenet.catalog.paper import paper_values
from beyond_imagenet.config.specs import ModelSpec
from beyond_imagenet.data.samples import read_split_list
from beyond_imagenet.properties.transfer.compute import (
    VTAB_GROUPS,
    VTAB_TASKS,
    split_rows,
    task_key,
    transfer_rows,
    transfer_summary_rows,
)
from beyond_imagenet.properties.transfer.plot import plot_transfer
from beyond_imagenet.properties.transfer.probe import (
    COARSE_INDICES,
    WEIGHT_DECAY_GRID,
    LinearProbeResult,
    batch_orders,
    coarse_to_fine,
    init_params,
    linear_probe,
    normalize_features,
    top1_pct,
    train_probes,
)
from beyond_imagenet.store.rows import METRIC_COLUMNS


def _blobs(n: int, classes: int, dim: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs around fixed class centres (centres from seed 0, samples from `seed`)."""
    centres = np.random.default_rng(0).standard_normal((classes, dim)).astype(np.float32)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    return centres[labels] + noise * rng.standard_normal((n, dim)).astype(np.float32), labels


def _small_task(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _blobs(100, 4, 16, 1.0, seed)
    return normalize_features(x), torch.from_numpy(y)


def _reference_probe(x: torch.Tensor, y: torch.Tensor, weight_decay: float, classes: int, seed: int):
    """The CLIP_benchmark loop written with torch's own pieces: nn.Linear, autograd, CE loss, torch.optim.AdamW."""
    generator = torch.Generator().manual_seed(seed)
    weight0, bias0 = init_params(x.shape[1], classes, generator)
    layer = torch.nn.Linear(x.shape[1], classes)
    with torch.no_grad():
        layer.weight.copy_(weight0.T)
        layer.bias.copy_(bias0)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=0.1, weight_decay=weight_decay, foreach=False)
    total, step = 10 * math.ceil(len(y) / 64), 0
    for order in batch_orders(len(y), generator):
        for rows in order.split(64):
            for group in optimizer.param_groups:
                group["lr"] = 0.05 * (1 + math.cos(math.pi * step / total))
            step += 1
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(layer(x[rows]), y[rows]).backward()
            optimizer.step()
    return layer.weight.detach().T, layer.bias.detach()


@pytest.mark.parametrize("weight_decay", [1e-6, 0.5, 3.0])
def test_training_matches_torch_adamw_loop(weight_decay):
    x, y = _small_task()
    weight, bias = train_probes(x, y, [weight_decay], 4, seed=3)
    ref_weight, ref_bias = _reference_probe(x, y, weight_decay, 4, seed=3)
    torch.testing.assert_close(weight, ref_weight, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(bias, ref_bias, atol=2e-5, rtol=1e-4)


def test_batched_candidates_equal_each_trained_alone():
    x, y = _small_task()
    decays = [1e-4, 0.1, 2.0]
    weight, bias = train_probes(x, y, decays, 4, seed=1)
    for k, decay in enumerate(decays):
        alone_weight, alone_bias = train_probes(x, y, [decay], 4, seed=1)
        torch.testing.assert_close(weight[:, 4 * k:4 * (k + 1)], alone_weight, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(bias[4 * k:4 * (k + 1)], alone_bias, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(weight[:, :4], weight[:, 8:])  # the candidates really got different decays


def test_separable_features_reach_full_test_accuracy():
    train, val, test = (_blobs(n, 5, 32, 0.05, seed) for n, seed in ((100, 1), (50, 2), (500, 3)))
    result = linear_probe(*train, *val, *test)
    assert result.test_top1_pct == pytest.approx(100.0)
    assert max(result.val_top1_by_wd.values()) == pytest.approx(100.0)


def test_chosen_weight_decay_is_on_grid_and_every_coarse_point_is_scored():
    train, val, test = (_blobs(n, 5, 32, 1.5, seed) for n, seed in ((100, 1), (50, 2), (200, 3)))
    result = linear_probe(*train, *val, *test)
    assert result.weight_decay in WEIGHT_DECAY_GRID.tolist()
    assert set(WEIGHT_DECAY_GRID[list(COARSE_INDICES)].tolist()) <= set(result.val_top1_by_wd)
    assert set(result.val_top1_by_wd) <= set(WEIGHT_DECAY_GRID.tolist())
    assert result.val_top1_by_wd[result.weight_decay] == max(result.val_top1_by_wd.values())


def test_same_seed_is_bit_identical_and_seed_matters():
    train, val, test = (_blobs(n, 5, 32, 1.5, seed) for n, seed in ((100, 1), (50, 2), (200, 3)))
    first, again = linear_probe(*train, *val, *test, seed=7), linear_probe(*train, *val, *test, seed=7)
    assert first == again and np.array_equal(first.test_correct, again.test_correct)
    assert first.test_top1_pct == 100.0 * first.test_correct.mean()  # the per-image outcomes behind the row
    x, y = _small_task()
    first, again, other = (train_probes(x, y, [1e-3], 4, seed)[0] for seed in (5, 5, 6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_probe_runs_under_deterministic_algorithms():
    train, val, test = (_blobs(n, 3, 8, 0.5, seed) for n, seed in ((40, 1), (20, 2), (30, 3)))
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        assert isinstance(linear_probe(*train, *val, *test), LinearProbeResult)
    finally:
        torch.use_deterministic_algorithms(previous)


def test_probe_leaves_callers_torch_threads_and_global_rng_alone():
    train, val, test = (_blobs(n, 3, 8, 0.5, seed) for n, seed in ((40, 1), (20, 2), (30, 3)))
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    linear_probe(*train, *val, *test)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_top1_counts_rows_with_non_finite_logits_as_wrong():
    x = torch.eye(3)
    x[0, 0] = 3e38  # row 0's logit for its own class overflows to +inf: argmax is right, but it must not count
    weight = 10 * torch.eye(3)
    assert top1_pct(x, torch.tensor([0, 1, 2]), weight, torch.zeros(3), 3).tolist() == pytest.approx([200 / 3])


def test_coarse_to_fine_follows_clip_benchmark_path():
    calls = []

    def score(indices):
        calls.append(list(indices))
        return {i: -abs(i - 37) for i in indices}

    peak, scores = coarse_to_fine(score)
    assert peak == 37
    # coarse 0,16,..,96 -> 32; span 8: 24,32,40 -> 40; span 4: 36,40,44 -> 36; span 2: 34,36,38 -> 36 (tie 38
    # loses to the earlier 36); span 1: 35,36,37 -> 37
    assert calls == [list(range(0, 97, 16)), [24, 40], [36, 44], [34, 38], [35, 37]]
    assert set(scores) == {0, 16, 32, 48, 64, 80, 96, 24, 40, 36, 44, 34, 38, 35, 37}


def test_coarse_to_fine_ties_go_to_the_first_scored():
    peak, _ = coarse_to_fine(lambda indices: {i: 50.0 for i in indices})
    assert peak == 0  # all equal: the smallest coarse wd, then the left candidate (clipped to 0) each stage
    peak, _ = coarse_to_fine(lambda indices: {i: 1.0 if i >= 48 else 0.0 for i in indices})
    assert peak == 48  # coarse ties 48..96 -> 48; refinements never find a better left neighbour


def test_linear_probe_rejects_bad_inputs():
    x, y = _blobs(20, 3, 8, 0.5, 1)
    with pytest.raises(ValueError, match="feature dimension 4"):
        linear_probe(x, y, x[:, :4], y, x, y)
    with pytest.raises(ValueError, match="label 2 is outside 0..1"):
        linear_probe(x, y, x, y, x, y, num_classes=2)
    with pytest.raises(ValueError, match="val split is empty"):
        linear_probe(x, y, x[:0], y[:0], x, y)


def test_task_key_groups_and_unknown_tasks():
    assert task_key("caltech101") == "natural/caltech101"
    assert task_key("eurosat") == "specialized/eurosat"
    assert task_key("clevr_count") == "structured/clevr_count"
    assert task_key("my_task") == "other/my_task"
    assert len(VTAB_TASKS) == 19 and sum(len(t) for t in VTAB_GROUPS.values()) == 19


def test_task_keys_match_paper_values():
    paper = paper_values()
    keys = set(paper.loc[(paper["property"] == "transfer") & paper["key"].str.contains("/"), "key"])
    assert keys == {task_key(task) for task in VTAB_TASKS}


def test_read_split_list_parses_lines(tmp_path):
    path = tmp_path / "train800.txt"
    path.write_text("images/a.jpg 0\n./images/b.jpg\t3\n\n")
    assert read_split_list(path) == [("images/a.jpg", 0), ("images/b.jpg", 3)]


@pytest.mark.parametrize("text, line, message", [
    ("a.jpg 0\nb.jpg\n", 2, "2 fields"),
    ("a.jpg 0\nmy image.jpg 1\n", 2, "got 3 fields"),
    ("a.jpg zero\n", 1, "label 'zero' is not an integer"),
    ("a.jpg -1\n", 1, "label -1 is negative"),
    ("a.jpg 0\nb.jpg 1\na.jpg 0\n", 3, "listed again \\(first on line 1\\)"),
])
def test_read_split_list_errors_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "val200.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"val200.txt:{line}: .*{message}"):
        read_split_list(path)


def _cache(tmp_path):
    """A 6-row cache in shuffled order and split files listing rows by path."""
    ids = ["img/5.png", "img/2.png", "img/0.png", "img/4.png", "img/1.png", "img/3.png"]
    features = np.array([[float(name[4])] * 2 for name in ids], dtype=np.float32)  # feature = image number
    labels = np.array([int(name[4]) % 2 for name in ids])
    (tmp_path / "train800.txt").write_text("img/0.png 0\nimg/1.png 1\nimg/2.png 0\n")
    (tmp_path / "val200.txt").write_text("img/3.png 1\n")
    (tmp_path / "test.txt").write_text("img/5.png 1\nimg/4.png 0\n")
    return ids, features, labels


def test_split_rows_joins_by_id(tmp_path):
    splits = split_rows(*_cache(tmp_path), tmp_path)
    assert set(splits) == {"train800", "val200", "test"}  # no train800val200.txt, so not returned
    train_x, train_y = splits["train800"]
    assert train_x[:, 0].tolist() == [0, 1, 2] and train_y.tolist() == [0, 1, 0]
    assert splits["test"][0][:, 0].tolist() == [5, 4] and splits["test"][1].tolist() == [1, 0]


def test_split_rows_errors(tmp_path):
    ids, features, labels = _cache(tmp_path)
    (tmp_path / "val200.txt").write_text("img/3.png 1\nimg/9.png 1\n")
    with pytest.raises(ValueError, match="val200.txt: 1 listed path.*'img/9.png'"):
        split_rows(ids, features, labels, tmp_path)
    (tmp_path / "val200.txt").write_text("img/3.png 0\n")
    with pytest.raises(ValueError, match="'img/3.png' has label 0 in the list but 1 in the cache"):
        split_rows(ids, features, labels, tmp_path)
    with pytest.raises(ValueError, match="no VTAB split file"):
        split_rows(ids, features, labels, tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="ids must be unique"):
        split_rows(["a", "a"], features[:2], labels[:2], tmp_path)


def test_transfer_rows():
    rows = transfer_rows("m", "vtab_dtd", "dtd", LinearProbeResult(71.5, 0.01, {0.01: 70.0}), n_test=1880)
    assert list(rows.columns) == list(METRIC_COLUMNS)
    assert rows.set_index("metric")["value"].to_dict() == {"linear_probe_top1_pct": 71.5, "weight_decay": 0.01}
    assert set(rows["key"]) == {"natural/dtd"} and set(rows["property"]) == {"transfer"}
    assert set(rows["n"]) == {1880}


def _per_task(model: str, scores: dict[str, float]) -> pd.DataFrame:
    return pd.concat([transfer_rows(model, f"vtab_{task}", task, LinearProbeResult(value, 1e-3), 100)
                      for task, value in scores.items()], ignore_index=True)


def test_summary_means_by_hand_with_all_19_tasks():
    scores = {task: float(i) for i, task in enumerate(VTAB_TASKS)}  # natural 0..6, specialized 7..10, structured 11..18
    rows = _per_task("m", scores)
    other_model = _per_task("x", {task: 1000.0 for task in VTAB_TASKS})
    summary = transfer_summary_rows("m", pd.concat([rows, other_model])).set_index("key")
    assert summary["value"].to_dict() == pytest.approx({"natural": 3.0, "specialized": 8.5, "structured": 14.5,
                                                        "average_19": 9.0})
    assert summary["n"].to_dict() == {"natural": 7, "specialized": 4, "structured": 8, "average_19": 19}


def test_summary_with_missing_and_extra_tasks_writes_average_not_average_19():
    rows = _per_task("m", {"caltech101": 80.0, "dtd": 70.0, "eurosat": 90.0, "my_task": 30.0})
    summary = transfer_summary_rows("m", rows).set_index("key")["value"].to_dict()
    assert summary == pytest.approx({"natural": 75.0, "specialized": 90.0, "other": 30.0, "average": 67.5})
    with pytest.raises(ValueError, match="several top-1 rows for task 'caltech101'"):
        transfer_summary_rows("m", pd.concat([rows, rows]))


MODELS = {
    "vit_sup": ModelSpec("vit_sup", "timm", "a", "hub", display_name="ViT sup", family="vit", training="supervised"),
    "convnext_sup": ModelSpec("convnext_sup", "timm", "b", "hub", display_name="ConvNeXt sup", family="convnext",
                              training="supervised"),
    "vit_clip": ModelSpec("vit_clip", "open_clip", "c", "hub", display_name="ViT CLIP", family="vit",
                          training="clip"),
    "convnext_clip": ModelSpec("convnext_clip", "open_clip", "d", "hub", display_name="ConvNeXt CLIP",
                               family="convnext", training="clip"),
}


def _metrics(models, tasks=VTAB_TASKS):
    rng = np.random.default_rng(0)
    frames = [_per_task(model, {task: float(rng.uniform(20, 95)) for task in tasks}) for model in models]
    return pd.concat(frames + [transfer_summary_rows(model, frames[i]) for i, model in enumerate(models)])


def _assert_written(paths):
    assert len(paths) == 4 and paths[2].name.startswith("transfer_groups")
    for path in paths:
        assert path.exists() and path.stat().st_size > 0


def test_plot_transfer_writes_both_figures(tmp_path):
    _assert_written(plot_transfer(_metrics(MODELS), MODELS, tmp_path / "transfer"))


def test_plot_transfer_skips_incomplete_pair_and_falls_back_without_pairs(tmp_path, caplog):
    models = {m: MODELS[m] for m in ("vit_sup", "convnext_sup", "vit_clip")}
    with caplog.at_level(logging.WARNING):
        _assert_written(plot_transfer(_metrics(models, VTAB_TASKS[:5]), models, tmp_path / "a" / "transfer"))
    assert "clip pair has models ['vit_clip']" in caplog.text
    only_vits = {m: MODELS[m] for m in ("vit_sup", "vit_clip")}
    with caplog.at_level(logging.WARNING):
        _assert_written(plot_transfer(_metrics(only_vits, VTAB_TASKS[:5]), only_vits, tmp_path / "b" / "transfer"))
    assert "drawing plain grouped bars" in caplog.text
    with pytest.raises(ValueError, match="no transfer rows"):
        plot_transfer(_metrics(MODELS).iloc[:0], MODELS, tmp_path / "c" / "transfer")


def test_summary_of_paper_task_values_reproduces_paper_average_19():
    paper = paper_values()
    paper = paper[(paper["property"] == "transfer") & (paper["metric"] == "linear_probe_top1_pct")]
    tasks = paper[paper["key"].str.contains("/")].assign(property="transfer", dataset="vtab", n=1)
    for model, printed in paper[paper["key"] == "average_19"].set_index("model")["value"].items():
        summary = transfer_summary_rows(model, tasks).set_index("key")["value"]
        assert summary["average_19"] == pytest.approx(printed, abs=0.05)  # the paper prints one decimal
