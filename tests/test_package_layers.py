"""The package's layers: no import circles, no import that climbs a layer, function-level imports only to guard a
heavy library (with their reason), and every torch-free module importable with torch & co. blocked."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from .conftest import REPO

SRC = REPO / "src"
PACKAGE = "beyond_imagenet"
# Lowest first: a module may import from its own layer and the layers before it. pipeline and demo are peers at
# the top (neither imports the other).
LAYERS = ("catalog", "config", "data", "store", "models", "extract", "stats", "figures", "properties", "report",
          ("pipeline", "demo"))
HEAVY_LIBRARIES = {"torch", "torchvision", "timm", "open_clip", "matplotlib", "tensorflow_datasets", "pyarrow"}
BLOCKED = ("torch", "torchvision", "timm", "open_clip", "matplotlib")
# The modules that import torch, timm, open_clip or matplotlib at their top level; every other one is importable
# without them (a CPU job, the DAG build, the VTAB exporter in its own environment).
HEAVY_MODULES = {"models", "extract", "figures", "pipeline.gpu", "demo.train", "properties.transfer.probe",
                 *(f"properties.{name}.plot" for name in (
                     "accuracy", "calibration", "imagenet_x", "robustness", "invariance", "shape_bias", "ood_detection",
                     "objectnet", "object_focus", "class_balance",
                     "pug_imagenet", "transfer", "representation_similarity"))}


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _target(module: str, path: Path, node: ast.ImportFrom | ast.Import) -> list[str]:
    """Our modules an import statement names (a `from package import submodule` names the submodule)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == PACKAGE]
    if node.level:
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        root = ".".join(base + ([node.module] if node.module else []))
    else:
        root = node.module or ""
    if root.split(".")[0] != PACKAGE:
        return []
    return [f"{root}.{a.name}" if f"{root}.{a.name}" in MODULES else root for a in node.names]


def _typing_only(tree: ast.Module) -> set[int]:
    """Statements under `if TYPE_CHECKING:` (never run)."""
    guarded = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
    return {id(n) for node in guarded for n in ast.walk(node)}


def _imports(module: str, runtime_only: bool = False) -> list[tuple[str, ast.stmt, bool]]:
    """(imported module of ours, statement, at function level) for each import of a module (`runtime_only`: not
    those under `if TYPE_CHECKING:`)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    top |= {id(n) for node in tree.body if isinstance(node, (ast.If, ast.Try)) for n in ast.walk(node)}
    skipped = _typing_only(tree) if runtime_only else set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped:
            found += [(t, node, id(node) not in top) for t in _target(module, path, node) if t != module]
    return found


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return -1  # the package's __init__: imports nothing of ours
    for rank, layer in enumerate(LAYERS):
        if parts[1] in (layer if isinstance(layer, tuple) else (layer,)):
            return rank
    raise AssertionError(f"module {module} is in no layer; add its folder to LAYERS")


def _short(module: str) -> str:
    return module.removeprefix(PACKAGE + ".")


def test_every_module_is_in_a_layer():
    for module in MODULES:
        _layer(module)


def test_no_import_climbs_a_layer():
    climbing = []
    for module in MODULES:
        for target, node, _ in _imports(module):
            low, high = _layer(target), _layer(module)
            same_rank_other_layer = low == high and target.split(".")[1] != module.split(".")[1]
            if low > high or same_rank_other_layer:
                climbing.append(f"{MODULES[module].relative_to(REPO)}:{node.lineno} {_short(module)} -> {_short(target)}")
    assert not climbing, "imports that climb a layer:\n" + "\n".join(climbing)


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    edges = {m: {t for t, _, _ in _imports(m) if t in MODULES} for m in MODULES}
    # a package importing its own submodules to re-export them is not a circle of the design
    for module in edges:
        edges[module] = {t for t in edges[module] if not t.startswith(module + ".")}
    assert not _circles(edges)


def test_the_checker_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _heavy_at_top(module: str, seen: set[str] | None = None) -> set[str]:
    """Heavy libraries a module imports when it is imported (its top-level imports, followed through ours)."""
    seen = set() if seen is None else seen
    if module in seen:
        return set()
    seen.add(module)
    tree = ast.parse(MODULES[module].read_text())
    heavy = set()
    for node in (n for n in tree.body if id(n) not in _typing_only(tree)):
        if isinstance(node, ast.Import):
            heavy |= {a.name.split(".")[0] for a in node.names} & HEAVY_LIBRARIES
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            heavy |= {node.module.split(".")[0]} & HEAVY_LIBRARIES
    for target, _, inner in _imports(module, runtime_only=True):
        if not inner and target in MODULES:
            heavy |= _heavy_at_top(target, seen)
    parent = module.rpartition(".")[0]
    if parent in MODULES:  # importing a submodule imports its package first
        heavy |= _heavy_at_top(parent, seen)
    return heavy


def _declared_heavy(module: str) -> bool:
    short = _short(module)
    return any(short == h or short.startswith(h + ".") for h in HEAVY_MODULES)


def test_only_the_declared_modules_import_torch_or_matplotlib():
    torch_like = {"torch", "torchvision", "timm", "open_clip", "matplotlib"}
    undeclared = sorted(_short(m) for m in MODULES if _heavy_at_top(m) & torch_like and not _declared_heavy(m))
    assert not undeclared, f"these modules import torch/timm/open_clip/matplotlib when imported: {undeclared}"


def test_a_function_level_import_of_ours_guards_a_heavy_library_and_says_so():
    problems = []
    for module in MODULES:
        lines = MODULES[module].read_text().splitlines()
        for target, node, inner in _imports(module):
            if not inner:
                continue
            where = f"{MODULES[module].relative_to(REPO)}:{node.lineno}"
            if not _heavy_at_top(target):
                problems.append(f"{where}: {_short(target)} imports no heavy library; import it at the top")
            reason = "#" in lines[node.lineno - 1] or lines[node.lineno - 2].strip().startswith("#")
            if not reason:
                problems.append(f"{where}: a function-level import of {_short(target)} without a comment saying why")
    assert not problems, "\n".join(problems)


BLOCKER = """
import importlib.abc, sys
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is blocked: a torch-free module imported it")
sys.meta_path.insert(0, Blocked())
"""


def test_every_torch_free_module_imports_with_torch_and_matplotlib_blocked():
    light = sorted(m for m in MODULES if not _declared_heavy(m))
    code = BLOCKER.format(blocked=BLOCKED) + "\n".join(f"import {m}" for m in light) + "\nprint('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_the_blocker_catches_an_import():
    """The blocked-import check can fail: a module that imports torch is refused under it."""
    code = BLOCKER.format(blocked=BLOCKED) + "import beyond_imagenet.models.build\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "is blocked" in done.stderr
