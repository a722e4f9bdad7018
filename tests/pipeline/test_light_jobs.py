"""CPU jobs start light: metrics and reports import no GPU-stage library they do not need."""

import subprocess
import sys

import pytest

from beyond_imagenet.properties import PROPERTIES

HEAVY = ("torch", "timm", "open_clip", "torchvision")


def _imported_after(code: str) -> set[str]:
    """Top-level modules a fresh interpreter holds after running `code`."""
    probe = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize("prop", sorted(PROPERTIES))
def test_a_metrics_job_imports_neither_torch_nor_matplotlib(prop):
    """Loading a property's compute is light; the linear probe imports torch only when it trains."""
    loaded = _imported_after(
        "import snakemake.script\n"  # what every snakemake script job imports first
        "from beyond_imagenet.pipeline import cpu, targets\nfrom beyond_imagenet.report import tables\n"
        f"from beyond_imagenet.properties import property_def\nproperty_def({prop!r}).compute()")
    assert not loaded & {*HEAVY, "matplotlib"}, loaded & {*HEAVY, "matplotlib"}


@pytest.mark.parametrize("prop", sorted(PROPERTIES))
def test_a_report_job_imports_matplotlib_but_no_torch(prop):
    loaded = _imported_after(
        f"from beyond_imagenet.pipeline import cpu\nfrom beyond_imagenet.properties import property_def\n"
        f"property_def({prop!r}).plot()")
    assert "matplotlib" in loaded and not loaded & set(HEAVY), loaded & set(HEAVY)


def test_the_dag_builds_without_torch():
    loaded = _imported_after("from beyond_imagenet.config import needs, schema, specs\nfrom beyond_imagenet.pipeline import plan, targets")
    assert not loaded & {*HEAVY, "matplotlib", "pandas"}, loaded & {*HEAVY, "matplotlib", "pandas"}
