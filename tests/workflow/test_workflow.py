"""The workflow end to end on a tiny demo world, plus the start-up check and the linter."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ..conftest import REPO

pytestmark = pytest.mark.workflow
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(SNAKEMAKE + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


TINY_DEMO = REPO / "tests/configs/tiny_demo.yaml"
REPORT_ARGS = ["--report", "results/report.html"]  # as the README prints it


def _checkout_like(tmp_path: Path) -> Path:
    """A run folder where config/ is the repo's (configs name config/open_clip/*.json relative to it)."""
    (tmp_path / "config").symlink_to(REPO / "config")
    return tmp_path


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny demo workflow run once to its end (every table and figure)."""
    run = _checkout_like(tmp_path_factory.mktemp("demo_run"))
    result = _run(["all", "--cores", "2", "--resources", "gpu=1", "--configfile", str(TINY_DEMO)], run)
    assert result.returncode == 0, result.stderr[-3000:]
    return run


def test_demo_dag_runs_to_every_table_and_figure(demo_run):
    config, tmp_path = TINY_DEMO, demo_run
    for prop in ("accuracy", "calibration", "imagenet_x", "robustness", "invariance", "shape_bias", "pug_imagenet",
                 "transfer", "representation_similarity", "ood_detection", "objectnet", "object_focus", "class_balance"):
        for path in (f"results/tables/{prop}.csv", f"results/tables/{prop}.md", f"results/figures/{prop}.pdf",
                     f"results/figures/{prop}.png"):
            assert (tmp_path / path).stat().st_size > 0, path
    report = _run(REPORT_ARGS + ["--configfile", str(config)], tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (tmp_path / "results/report.html").read_text(errors="replace")
    for prop in ("accuracy", "robustness", "representation_similarity", "ood_detection", "objectnet", "object_focus",
                 "class_balance", "summary"):
        assert f"{prop}.png" in html, prop
    assert "Table 1, measured" in html and "Robustness: top-1 on ImageNet-V2" in html  # captions, per property
    wide = pd.read_csv(tmp_path / "results/tables/paper_style/robustness.csv", index_col="model")
    assert list(wide.index) == ["ViT-sup (demo)", "ViT-clip (demo)"] and "imagenet_sketch" in wide.columns
    assert "\\begin{tabular}" in (tmp_path / "results/tables/paper_style/robustness.tex").read_text()
    _check_intervals_and_pairs(tmp_path)
    _check_summary(tmp_path)
    _check_accuracy(pd.read_csv(tmp_path / "results/tables/accuracy.csv"))
    _check_invariance_identity_views(tmp_path)
    _check_robustness(pd.read_csv(tmp_path / "results/tables/robustness.csv"))
    calibration = pd.read_csv(tmp_path / "results/tables/calibration.csv")
    assert set(calibration["dataset"]) == {"imagenet_val", "imagenet_r"}
    assert calibration.query("metric == 'ece_15bin'")["value"].between(0, 1).all()
    ratios = pd.read_csv(tmp_path / "results/tables/imagenet_x.csv").query("metric == 'error_ratio'")
    assert "average" in set(ratios["key"])
    shape = pd.read_csv(tmp_path / "results/tables/shape_bias.csv").set_index(["model", "metric"])["value"]
    for model in ("vit_sup", "vit_clip"):
        # a barely trained model may never pick either cue: then shape bias is undefined, and left out of the rows
        assert (model, "shape_bias") not in shape.index or 0 <= shape[(model, "shape_bias")] <= 1
        fractions = [shape[(model, f"{kind}_fraction")] for kind in ("shape", "texture", "other")]
        assert sum(fractions) == pytest.approx(1.0)
    pug = pd.read_csv(tmp_path / "results/tables/pug_imagenet.csv").query("metric == 'top1_pct'")
    assert len(set(pug["key"])) == 11  # 10 factors + average
    transfer = pd.read_csv(tmp_path / "results/tables/transfer.csv")
    probes = transfer.query("metric == 'linear_probe_top1_pct' and dataset != 'vtab'")
    assert set(probes["dataset"]) == {"vtab_counting", "vtab_shapes", "vtab_textures"} and len(probes) == 6

    _check_representation_similarity(tmp_path)
    _check_beyond_the_paper(tmp_path)

    rerun = _run(["all", "--cores", "2", "--resources", "gpu=1", "--configfile", str(config), "-n"], tmp_path)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr  # caches are reused, not recomputed
    _check_cosmetic_edits_rerun_nothing(tmp_path)


def _check_cosmetic_edits_rerun_nothing(tmp_path: Path) -> None:
    """Runtime knobs and a dataset's `get:` text rerun nothing; a display name reruns only the reports."""
    config = yaml.safe_load(TINY_DEMO.read_text())
    config["extraction"].update(threads=2, batch_size=7)
    config["datasets"]["imagenet_val"]["get"] = "a new hint"
    knobs = tmp_path / "knobs.yaml"
    knobs.write_text(yaml.safe_dump(config))
    dry = _run(["all", "--cores", "2", "-n", "--configfile", str(knobs)], tmp_path)
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-2000:]
    config["models"]["vit_sup"]["display_name"] = "Renamed"
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(yaml.safe_dump(config))
    dry = _run(["all", "--cores", "2", "-n", "--configfile", str(renamed)], tmp_path)
    planned = set(re.findall(r"^rule (\w+):", dry.stdout + dry.stderr, re.MULTILINE))
    assert planned == {"report_property", "report_summary", "all"}, planned


def _check_accuracy(table: pd.DataFrame) -> None:
    assert set(table["model"]) == {"vit_sup", "vit_clip"}
    assert set(table["dataset"]) == {"imagenet_val", "imagenet_val_flat"}
    assert (table["n"] == 16).all() and table["value"].between(0, 100).all()
    # The same images in two formats must give the same numbers (label order is format-independent).
    by_format = table.pivot_table(index=["model", "metric"], columns="dataset", values="value")
    assert (by_format["imagenet_val"] == by_format["imagenet_val_flat"]).all()


def _check_invariance_identity_views(tmp_path: Path) -> None:
    """scale=1 of a bilinear model and resolution=<native> are the standard transform: same top-1 as plain val.

    (The CLIP model's scale=1 is a bilinear resize and shift=0 a window crop, as in the authors' code.)
    """
    accuracy = pd.read_csv(tmp_path / "results/tables/accuracy.csv")
    invariance = pd.read_csv(tmp_path / "results/tables/invariance.csv").query("metric == 'top1_pct'")
    for model, identity_views in (("vit_sup", ("scale=1", "resolution=32")), ("vit_clip", ("resolution=64",))):
        plain = accuracy.query("model == @model and dataset == 'imagenet_val' and metric == 'top1_pct'")["value"].item()
        views = invariance[invariance["model"] == model].set_index("key")["value"]
        assert {"scale=1", "shift=0"} <= set(views.index)
        for view in identity_views:
            assert views[view] == pytest.approx(plain), (model, view)


def _check_beyond_the_paper(tmp_path: Path) -> None:
    """The four properties beyond the paper, end to end on the tiny world's look-alikes (4 classes x 4 images)."""
    ood = pd.read_csv(tmp_path / "results/tables/ood_detection.csv")
    assert len(ood) == 2 * 3 * 3 and ood["value"].between(0, 100).all()
    assert (ood["n"] == 16 + 8).all()  # every val image in-distribution (all 1000 classes), 2 x 4 OOD images
    objectnet = pd.read_csv(tmp_path / "results/tables/objectnet.csv")
    assert (objectnet["n"] == 4).all()  # the bicycle folder; the other classes' folders are left out
    focus = pd.read_csv(tmp_path / "results/tables/object_focus.csv").set_index(["model", "key"])["value"]
    for model in ("vit_sup", "vit_clip"):
        assert focus[(model, "bg_gap")] == pytest.approx(focus[(model, "mixed_same")] - focus[(model, "mixed_rand")])
    balance = pd.read_csv(tmp_path / "results/metrics/class_balance/vit_sup.csv")
    assert (balance["metric"] == "class_top1_pct").sum() == 4 and "weakest classes on imagenet_val" in (
        tmp_path / "results/cards/vit_sup.md").read_text()


def _check_representation_similarity(tmp_path: Path) -> None:
    """Across models, from the layer activations the val extraction recorded: CKA(layer, itself) = 1."""
    metrics = pd.read_csv(tmp_path / "results/metrics/representation_similarity/all_models.csv")
    within = metrics[(metrics["model"] == "vit_sup") & (metrics["metric"] == "cka_linear")]
    diagonal = within[within["key"].map(lambda k: k.split("|")[0] == k.split("|")[1])]
    assert len(diagonal) > 1 and diagonal["value"].round(6).eq(1.0).all()
    assert {frozenset(label.split("|")) for label in metrics["model"]} == {
        frozenset({"vit_sup"}), frozenset({"vit_clip"}), frozenset({"vit_sup", "vit_clip"})}
    table = pd.read_csv(tmp_path / "results/tables/representation_similarity.csv")
    assert set(table["metric"]) == {"adjacent_cka_mean"} and table["value"].between(-0.1, 1.0).all()


def _check_robustness(table: pd.DataFrame) -> None:
    top1 = table[table["metric"] == "top1_pct"]
    expected = {"imagenet_val", "imagenet_v2", "imagenet_a", "imagenet_c", "imagenet_hard", "imagenet_r",
                "imagenet_sketch", "imagenet_real", "average_7_shifted"}
    for model in ("vit_sup", "vit_clip"):
        keys = set(top1[top1["model"] == model]["key"])
        assert expected <= keys, expected - keys
        rows = top1[top1["model"] == model].set_index("key")["value"]
        shifted = [rows[k] for k in sorted(expected - {"imagenet_val", "average_7_shifted"})]
        assert rows["average_7_shifted"] == pytest.approx(sum(shifted) / 7)
    assert (table.query("metric == 'mce'")["value"] > 0).all()


def _check_intervals_and_pairs(run: Path) -> None:
    """Headline rows carry bootstrap intervals; the paper's pairs are tested on the same images."""
    for prop, metric in (("accuracy", "top1_pct"), ("robustness", "top1_pct"), ("invariance", "top1_pct"),
                         ("pug_imagenet", "top1_pct"), ("shape_bias", "accuracy_16class"),
                         ("transfer", "linear_probe_top1_pct")):
        rows = pd.read_csv(run / f"results/tables/{prop}.csv").query("metric == @metric")
        # ImageNet-C detail rows, and the mean of the 7 shifted sets (ReaL and -C both score the val images, so the
        # sets are not independent) have no interval; PUG's and VTAB's means (disjoint sets) do
        rows = rows[~rows["key"].str.startswith("imagenet_c/") & (rows["key"] != "average_7_shifted")]
        if prop in ("pug_imagenet", "transfer"):
            assert {"average"} <= set(rows["key"]), prop
        assert rows["ci_low"].notna().all(), rows[rows["ci_low"].isna()]
        assert (rows["ci_low"] <= rows["value"] + 1e-9).all() and (rows["value"] <= rows["ci_high"] + 1e-9).all()
    pairs = pd.read_csv(run / "results/tables/paired_tests.csv")
    assert set(pairs["contrast"]) == {"paradigm (vit)"}  # the tiny demo has a supervised and a CLIP ViT
    assert {"accuracy", "calibration", "imagenet_x", "robustness", "invariance", "shape_bias",
            "pug_imagenet", "transfer"} <= set(pairs["property"])
    top1 = pairs.query("metric == 'top1_pct'")
    # no McNemar for ImageNet-C (its per-image value is a share of 75 cells) nor for a mean over sets (PUG average)
    binary = (top1["dataset"] != "imagenet_c") & (top1["key"] != "average")
    assert top1.loc[binary, "p_mcnemar"].between(0, 1).all() and top1.loc[~binary, "p_mcnemar"].isna().all()
    assert (top1["ci_low"] <= top1["ci_high"]).all()
    assert (pairs["difference"] - (pairs["value_a"] - pairs["value_b"])).abs().max() < 1e-9


def _check_summary(run: Path) -> None:
    """Table 1 counted, the board and cards written, val top-1 consistent, no paper model: said in one line."""
    table1 = pd.read_csv(run / "results/tables/table1.csv").set_index("model")
    assert table1.loc["ViT-sup (demo)", "params_M"] == pytest.approx(0.329)  # test_vit at 32 px, counted
    assert (table1["gflops"] > 0).all() and table1["imagenet_top1"].between(0, 100).all()
    summary = pd.read_csv(run / "results/tables/summary.csv")
    assert len(summary) == 2 and "ImageNet top-1 (%)" in summary.columns
    assert (run / "results/figures/summary.png").stat().st_size > 0
    for model in ("vit_sup", "vit_clip"):
        card = (run / f"results/cards/{model}.md").read_text()
        assert re.search(r"\| ImageNet top-1 \(%\) +\| [\d.]+ \[[\d.]+, [\d.]+\] +\| [12] of 2 ", card), card
    consistency = pd.read_csv(run / "results/tables/consistency.csv")
    assert "MISMATCH" not in set(consistency["status"])
    assert set(consistency.query("source.str.startswith('accuracy') or source.str.startswith('robustness')")
               ["status"]) == {"agrees"}
    assert "nothing to compare" in (run / "results/tables/paper_comparison.md").read_text()


# Every dataset id of the tiny demo, renamed; the roles stay (they say what each set is).
RENAMED_IDS = {"imagenet_val": "val_images", "imagenet_val_flat": "flat_copy", "imagenet_v2": "v2_set",
               "imagenet_a": "natural_adv", "imagenet_r": "renditions", "imagenet_sketch": "sketches",
               "imagenet_c": "corrupted", "imagenet_hard": "hard_set", "cue_conflict": "conflict",
               "pug_imagenet": "synthetic", "vtab_counting": "task_count", "vtab_shapes": "task_shape",
               "vtab_textures": "task_texture", "imagenet_o": "ood_set", "objectnet": "objects",
               "imagenet_9": "backgrounds"}


def _renamed_config() -> tuple[dict, dict[str, str]]:
    """The tiny demo with every dataset id renamed, and the renaming of the ids that declare no role (whose rows
    are keyed by their id)."""
    config = yaml.safe_load(TINY_DEMO.read_text())
    assert set(config["datasets"]) == set(RENAMED_IDS)
    roleless = {old: RENAMED_IDS[old] for old, entry in config["datasets"].items() if "role" not in entry}
    config["datasets"] = {RENAMED_IDS[old]: entry for old, entry in config["datasets"].items()}
    for entry in config["properties"].values():
        entry["datasets"] = [RENAMED_IDS[d] for d in entry.get("datasets", [])]
    return config, roleless


def _read_text_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _renamed(frame: pd.DataFrame, roleless: dict[str, str]) -> pd.DataFrame:
    """A table of the original run as the renamed run must write it: dataset ids renamed, and the keys of datasets
    without a role (their id, or `other/<id>` for a transfer task)."""
    frame = frame.copy()
    if "dataset" in frame:
        frame["dataset"] = frame["dataset"].map(lambda value: RENAMED_IDS.get(value, value))
    if "key" in frame:
        frame["key"] = frame["key"].map(lambda value: "/".join(roleless.get(p, p) for p in value.split("/")))
    return frame.rename(columns=lambda column: "/".join(roleless.get(p, p) for p in str(column).split("/")))


def test_every_dataset_id_renamed_gives_the_same_numbers(demo_run, tmp_path):
    """No dataset id is special: renamed, every table, figure input (metrics), card and outcome holds the same numbers
    (to the bit), and only the ids differ."""
    import shutil

    from beyond_imagenet.stats.outcomes import read_outcomes

    run = _checkout_like(tmp_path)
    shutil.copytree(demo_run / "resources", run / "resources")  # the same generated world and trained models
    config, roleless = _renamed_config()
    path = run / "renamed_ids.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))  # the models' order is the tables' order
    result = _run(["all", "--cores", "2", "--resources", "gpu=1", "--configfile", str(path)], run)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "train_demo_model" not in result.stderr  # compared on the same models
    compared = 0
    for folder in ("results/tables", "results/metrics"):
        for original in sorted((demo_run / folder).rglob("*.csv")):
            renamed = run / original.relative_to(demo_run)
            expected = _renamed(_read_text_table(original), roleless)
            if original.parent.name == "paper_style":
                expected = expected.set_index("model").sort_index(axis=1)
                got = _read_text_table(renamed).set_index("model").sort_index(axis=1)
            else:
                got = _read_text_table(renamed)
            pd.testing.assert_frame_equal(got, expected, obj=str(original.relative_to(demo_run)))
            compared += 1
    for card in sorted((demo_run / "results/cards").glob("*.md")):
        assert (run / card.relative_to(demo_run)).read_text() == card.read_text(), card.name
        compared += 1
    for outcomes in sorted((demo_run / "results/outcomes").glob("*.h5")):
        model, before = read_outcomes(outcomes)
        _, after = read_outcomes(run / outcomes.relative_to(demo_run))
        mapped = {(p, RENAMED_IDS.get(d, d), "/".join(roleless.get(x, x) for x in k.split("/")), m): o
                  for (p, d, k, m), o in before.items()}
        assert set(mapped) == set(after), model
        for key, outcome in mapped.items():
            if hasattr(outcome, "components"):  # a mean over other rows' outcomes
                assert after[key].components == tuple(
                    (RENAMED_IDS.get(d, d), "/".join(roleless.get(x, x) for x in k.split("/")), m)
                    for d, k, m in outcome.components), key
                continue
            assert (after[key].ids == outcome.ids).all() and after[key].columns.keys() == outcome.columns.keys()
            assert all((after[key].columns[c] == outcome.columns[c]).all() for c in outcome.columns), key
        compared += 1
    assert compared > 40


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "test-artifacts"  # screenshots a test keeps for a person to look at (git-ignored)


def _browser(html: Path, profile: Path, *, action: str = "", screenshot: Path | None = None) -> str:
    """The DOM of a page after a headless Chromium (the system's) rendered it and ran `action` (report JS)."""
    page = html
    if action:  # the report is one page of React; a category is opened by calling its app, as its links do
        page = html.with_name(f"{html.stem}_{abs(hash(action))}.html")
        page.write_text(html.read_text().replace("</body>", f"<script>setTimeout(() => {{ {action} }}, 300)"
                                                             "</script></body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=1400,2400", "--virtual-time-budget=15000"]
    if screenshot is not None:
        done = subprocess.run([CHROMIUM, *flags, f"--screenshot={screenshot}", page.as_uri()], capture_output=True,
                              text=True, timeout=120)
        assert screenshot.exists(), done.stderr[-2000:]
    done = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _datasets_of(path: Path) -> dict[str, bytes]:
    """Every array of a cache file by name, as bytes (logits, features, layers, scores, labels, ids, digests)."""
    import h5py

    def content(item: h5py.Dataset) -> bytes:
        values = item[()]
        return b"\n".join(values) if item.dtype.kind == "O" else values.tobytes()  # strings: their bytes

    arrays = {}
    with h5py.File(path) as handle:
        handle.visititems(lambda name, item: arrays.__setitem__(name, content(item))
                          if isinstance(item, h5py.Dataset) else None)
    return arrays


def _cache_targets(config: dict, models: list[str]) -> list[str]:
    from beyond_imagenet.pipeline.plan import extraction_jobs, job_cache

    return [job_cache(model, job) for model in models for job in extraction_jobs(config)]


def test_shared_decoding_writes_the_same_caches_and_adding_a_model_reruns_nothing(demo_run, tmp_path):
    run = _checkout_like(tmp_path)
    shutil.copytree(demo_run / "resources", run / "resources")  # the same generated world and trained models
    config = yaml.safe_load(TINY_DEMO.read_text())
    config["extraction"]["share_decoding"] = True
    (run / "shared.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    targets = _cache_targets(config, list(config["models"]))
    result = _run(targets + ["--cores", "1", "--configfile", "shared.yaml"], run)
    assert result.returncode == 0, result.stderr[-3000:]
    for target in targets:  # to the bit, every array of every group
        assert _datasets_of(run / target) == _datasets_of(demo_run / target), target
    logs = {path.relative_to(run / "logs").as_posix(): path.read_text() for path in (run / "logs").rglob("*.log")}
    leaders = [name for name, text in logs.items() if re.search(r"also extracts vit_(sup|clip) ", text)]
    adopters = [name for name, text in logs.items() if "adopted results/teams/vit_" in text]
    assert leaders and len(adopters) == len(leaders) == len(targets) // 2, (leaders, adopters)

    stamps = {target: (run / target).stat() for target in targets}
    (run / "extra").mkdir()
    shutil.copy(run / "resources/demo/models/vit_sup.pt", run / "extra/vit_sup_copy.pt")
    config["models"]["vit_sup_copy"] = {**config["models"]["vit_sup"], "weights": "extra/vit_sup_copy.pt",
                                        "display_name": "ViT-sup copy"}
    (run / "shared.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    added = _cache_targets(config, ["vit_sup_copy"])
    result = _run(targets + added + ["--cores", "1", "--configfile", "shared.yaml"], run)
    assert result.returncode == 0, result.stderr[-3000:]
    for target in targets:  # not rerun, not rewritten
        assert ((run / target).stat().st_ino, (run / target).stat().st_mtime_ns) == \
            (stamps[target].st_ino, stamps[target].st_mtime_ns), target
    for target, twin in zip(added, _cache_targets(config, ["vit_sup"])):  # the same weights: the same logits
        new, old = _datasets_of(run / target), _datasets_of(run / twin)
        assert {k: v for k, v in new.items() if k.endswith("/logits")} == \
            {k: v for k, v in old.items() if k.endswith("/logits")}


def test_a_newer_script_file_reruns_nothing(demo_run):
    """A git pull or checkout gives the workflow's scripts a new file time: that must not redo the extraction."""
    for script in ("extract_outputs.py", "build_zero_shot_head.py", "compute_properties.py"):
        os.utime(REPO / "workflow/scripts" / script)  # now: newer than every output of the finished run
    dry = _run(["all", "-n", "--cores", "2", "--configfile", str(TINY_DEMO)], demo_run)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium; .ci/run installs it)")
def test_the_report_opens_on_the_results_in_a_browser(demo_run, tmp_path):
    """The landing page shows the summary board and the headline table; every category lists its entries."""
    report = _run(REPORT_ARGS + ["--configfile", str(TINY_DEMO)], demo_run)
    assert report.returncode == 0, report.stderr[-3000:]
    html = demo_run / "results/report.html"
    ARTIFACTS.mkdir(exist_ok=True)
    landing = _browser(html, tmp_path / "profile", screenshot=ARTIFACTS / "report_landing.png")
    assert "every model on every headline" in landing and "<svg" in landing  # the board, inlined
    assert "headlines: value [95% interval]" in landing and "Table 1, measured" in landing
    expected = {"Summary": ["overview.html", "table1.csv", "summary.png", "paper_comparison.csv", "consistency.csv"],
                "Tables": [f"{p}.html" for p in ("accuracy", "calibration", "robustness", "transfer")],
                "Figures": [f"{p}.png" for p in ("accuracy", "invariance", "representation_similarity")],
                "Cards": ["vit_sup.html", "vit_clip.html"], "Paired tests": ["paired_tests.html"]}
    for category, entries in expected.items():
        dom = _browser(html, tmp_path / "profile", action=f"app.showCategory({category!r});")
        missing = [entry for entry in entries if entry not in dom]
        assert not missing, (category, missing)


def _legend_entries(figure) -> list[tuple[str, str]]:
    """(label, colour) of every legend entry of a figure (axes' and the figure's own)."""
    from matplotlib.colors import to_hex

    legends = [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None] + list(figure.legends)
    entries = []
    for legend in legends:
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            color = handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()
            entries.append((text.get_text(), to_hex(color)))
    return entries


def test_five_models_two_of_no_paper_family_get_distinct_legend_entries_in_every_figure(demo_run, tmp_path,
                                                                                         monkeypatch):
    """Every `family: other` model was one grey, and two of them had identical legend entries."""
    import matplotlib.pyplot as plt

    from beyond_imagenet.config.specs import ModelSpec
    from beyond_imagenet.properties import PROPERTIES
    from beyond_imagenet.report.summary import declared_headlines, headline_rows, plot_board
    from beyond_imagenet.store.rows import read_metrics

    five = {"m1": ("vit", "supervised", "vit_sup"), "m2": ("vit", "clip", "vit_clip"),
            "m3": ("convnext", "supervised", "vit_sup"), "m4": ("other", "supervised", "vit_sup"),
            "m5": ("other", "clip", "vit_clip")}
    specs = {m: ModelSpec(id=m, source="timm", name=m, weights="hub", display_name=f"Model {m}", family=f, training=t)
             for m, (f, t, _) in five.items()}
    figures = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda figure=None: (figures.append(figure), real_close(figure))[1])
    config = yaml.safe_load(TINY_DEMO.read_text())
    for prop, definition in PROPERTIES.items():
        files = sorted((demo_run / f"results/metrics/{prop}").glob("*.csv"))
        if definition.scope != "model":
            continue  # CKA: heatmaps per pair of models, no legend of models
        metrics = read_metrics(files)
        copied = [metrics[metrics["model"] == source].assign(model=m) for m, (_, _, source) in five.items()]
        definition.plot()(pd.concat(copied, ignore_index=True), specs, tmp_path / prop, config["properties"][prop])
    board = pd.concat([headline_rows(read_metrics(sorted((demo_run / "results/metrics").glob(f"{p}/*.csv"))), [h])
                       for p in ("accuracy", "calibration") for h in declared_headlines(
                           {p: {"settings": {}, "datasets": {"imagenet_val": {"role": "imagenet_val"}}}})])
    plot_board(pd.concat([board[board["model"] == source].assign(model=m) for m, (_, _, source) in five.items()]),
               specs, tmp_path / "board")
    checked = 0
    for figure in figures:
        colors: dict[str, set[str]] = {}
        for label, color in _legend_entries(figure):
            model = next((spec.display_name for spec in specs.values() if label.startswith(spec.display_name)), None)
            if model is not None:
                colors.setdefault(model, set()).add(color)
        if len(colors) >= 2:
            checked += 1
            assert all(len(c) == 1 for c in colors.values()), colors  # one colour per model, in every legend
            flat = [next(iter(c)) for c in colors.values()]
            assert len(set(flat)) == len(flat), colors  # and no two models share one
        if figure is figures[-1]:  # the board shows all five
            assert len(colors) == 5, colors
    assert checked >= 6


def test_missing_data_stops_before_any_job(tmp_path):
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["datasets"]["imagenet_val"]["root"] = str(tmp_path / "no_imagenet")
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(config))
    dry = _run(["all", "-n", "--cores", "1", "--configfile", str(path)], tmp_path)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "extract_outputs" in dry.stdout and "needs data that is not on this machine" in dry.stdout + dry.stderr
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", dry.stdout + dry.stderr, re.MULTILINE))
    # The paper's plan: one job per (model, dataset or pack), 15 ImageNet-C groups (was 511 jobs, 468 extractions).
    assert int(counts["total"]) <= 130 and int(counts["extract_outputs"]) <= 4 * 26, counts
    real = _run(["all", "--cores", "1", "--configfile", str(path)], tmp_path)
    said = real.stdout + real.stderr
    assert real.returncode != 0
    assert "datasets.imagenet_val.root" in said and "enabled: false" in said and "image-net.org" in said
    assert "Finished jobid" not in said and not (tmp_path / "results").exists()


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/demo.yaml"])
def test_lint_is_clean(configfile):
    result = _run(["--lint", "--configfile", str(REPO / configfile)], REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.faults
def test_the_documented_command_recovers_after_ctrl_c(tmp_path):
    """Interrupted mid-extraction, the same command runs on (no --rerun-incomplete to remember: profiles/default)."""
    import signal
    import time

    _checkout_like(tmp_path)
    config = yaml.safe_load(TINY_DEMO.read_text())
    config["demo"]["val_per_class"] = 40  # an extraction long enough to be interrupted while it writes
    config["properties"] = {"accuracy": config["properties"]["accuracy"]}  # what the recovery needs, no more
    path = tmp_path / "slower.yaml"
    path.write_text(yaml.safe_dump(config))
    command = SNAKEMAKE + ["all", "--cores", "2", "--resources", "gpu=1", "--configfile", str(path)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    # A background job of a non-interactive shell (CI) inherits SIGINT ignored; a terminal's Ctrl-C is not.
    run = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 600
    while time.time() < deadline and run.poll() is None and not list(tmp_path.glob("results/outputs/*/*.partial")):
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)  # a cache is being written right now
    said = run.communicate(timeout=300)[0]
    assert run.returncode != 0, said[-2000:]  # it was interrupted
    again = _run(["all", "--cores", "2", "--resources", "gpu=1", "--configfile", str(path)], tmp_path)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert (tmp_path / "results/tables/accuracy.csv").exists()
