"""ImageNet-1k label space (the canonical index is the position of a wnid in the sorted wnids) and its subsets."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

NUM_IMAGENET_CLASSES = 1000


def timm_info_file(name: str) -> Path:
    """A label file timm ships in timm/data/_info/, found without importing timm (a 2-3 s import)."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("timm is not installed; it ships the ImageNet label files (requirements.txt)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "_info" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: timm no longer ships {name}; pin timm as in requirements.txt")
    return path


@lru_cache(maxsize=1)
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ILSVRC-2012 wnids in canonical (sorted) order, from timm's package data."""
    wnids = tuple(sorted(timm_info_file("imagenet_synsets.txt").read_text().split()))
    if len(wnids) != NUM_IMAGENET_CLASSES or len(set(wnids)) != NUM_IMAGENET_CLASSES:
        raise RuntimeError(f"timm's ImageNet synset list has {len(wnids)} entries, expected 1000 unique")
    return wnids


@lru_cache(maxsize=1)
def wnid_to_index() -> dict[str, int]:
    """Map wnid -> canonical 1000-class index."""
    return {wnid: i for i, wnid in enumerate(imagenet_wnids())}


def index_of_wnid(wnid: str) -> int:
    """Canonical index of one wnid; a clear error for anything that is not an ILSVRC-2012 wnid."""
    try:
        return wnid_to_index()[wnid]
    except KeyError:
        raise KeyError(f"{wnid!r} is not one of the 1000 ILSVRC-2012 wnids (expected e.g. 'n01440764')") from None


@lru_cache(maxsize=1)
def _lemmas() -> dict[str, str]:
    pairs = (line.split("\t", 1) for line in timm_info_file("imagenet_synset_to_lemma.txt").read_text().splitlines())
    return {wnid: lemma for wnid, lemma in pairs}


def imagenet_lemma(wnid: str) -> str:
    """The first WordNet lemma of a wnid ('n02099601' -> 'golden retriever'), from timm's package data."""
    return _lemmas()[wnid].split(",")[0].strip()


@lru_cache(maxsize=1)
def imagenet_classnames() -> tuple[str, ...]:
    """OpenAI's cleaned class names, index-aligned with the sorted wnids (shipped by open_clip)."""
    from open_clip import IMAGENET_CLASSNAMES

    return tuple(IMAGENET_CLASSNAMES)


# --- label spaces: which of the 1000 outputs a dataset's decision is taken over -------------------
# One owner for "1000 outputs become this dataset's decision" (model-vs-human's decision mappings):
# accuracy, calibration and robustness all restrict through `restrict`.

IMAGENET_1K = "imagenet1k"
NO_IMAGENET_LABEL = "none"  # cue-conflict, PUG, VTAB: the property maps the 1000 outputs itself
# ImageNet-A/R: timm ships the 200-class index lists (and the wnids they must equal) as package data.
SUBSET_FILES = {"imagenet_a": ("imagenet_a_indices.txt", "imagenet_a_synsets.txt"),
                "imagenet_r": ("imagenet_r_indices.txt", "imagenet_r_synsets.txt")}
# ImageNet-O: no library ships its 200 classes; this package does (the wnid list of its authors' evaluation).
PACKAGE_SUBSET_FILES = {"imagenet_o": "imagenet_o_synsets.txt"}
SUBSET_SIZE = 200
LABEL_SPACES = (IMAGENET_1K, *SUBSET_FILES, *PACKAGE_SUBSET_FILES, NO_IMAGENET_LABEL)


def _package_wnids(name: str) -> list[str]:
    """The wnids of a subset file shipped in catalog/files ('#' lines are its provenance)."""
    text = resources.files("beyond_imagenet.catalog.files").joinpath(name).read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=None)
def _subset_tuple(name: str) -> tuple[int, ...]:
    if name in PACKAGE_SUBSET_FILES:
        wnids = _package_wnids(PACKAGE_SUBSET_FILES[name])
        if len(wnids) != SUBSET_SIZE or len(set(wnids)) != SUBSET_SIZE:
            raise RuntimeError(f"{PACKAGE_SUBSET_FILES[name]}: {len(wnids)} wnids ({len(set(wnids))} distinct), "
                               f"expected {SUBSET_SIZE}; the package's file is damaged — reinstall it")
        return tuple(sorted(index_of_wnid(wnid) for wnid in wnids))
    if name not in SUBSET_FILES:
        raise ValueError(f"unknown class subset {name!r}; choose one of {sorted([*SUBSET_FILES, *PACKAGE_SUBSET_FILES])}")
    indices_file, synsets_file = SUBSET_FILES[name]
    indices = tuple(int(token) for token in timm_info_file(indices_file).read_text().split())
    wnids = sorted(timm_info_file(synsets_file).read_text().split())
    expected = tuple(wnid_to_index()[wnid] for wnid in wnids)
    if len(indices) != SUBSET_SIZE or indices != expected:
        raise RuntimeError(f"timm's {indices_file} ({len(indices)} entries) is not the canonical indices of the "
                           f"{len(wnids)} sorted wnids in {synsets_file}; the installed timm's data has changed")
    return indices


def imagenet_subset(name: str) -> np.ndarray:
    """Canonical 1000-class indices (ascending) of ImageNet-A's, -R's or -O's 200 classes."""
    return np.array(_subset_tuple(name), dtype=np.int64)


def class_subset(label_space: str) -> np.ndarray | None:
    """The canonical indices a label space's decisions are taken over; None = all 1000 classes."""
    if label_space == IMAGENET_1K:
        return None
    if label_space == NO_IMAGENET_LABEL:
        raise ValueError(f"label space {NO_IMAGENET_LABEL!r} has no ImageNet labels to score against; "
                         "the property must map the 1000 outputs itself")
    return imagenet_subset(label_space)


@dataclass(frozen=True)
class Restricted:
    """Logits and labels inside a class subset: column j is canonical class classes[j]."""

    logits: np.ndarray  # N x K
    labels: np.ndarray  # N, positions 0..K-1
    classes: np.ndarray  # K canonical indices (all 1000 when unrestricted)


def _check_subset(classes: np.ndarray, num_classes: int) -> np.ndarray:
    classes = np.asarray(classes, dtype=np.int64)
    if classes.ndim != 1 or classes.size == 0 or np.unique(classes).size != classes.size:
        raise ValueError(f"class subset must be a non-empty 1-d list of distinct indices, got shape {classes.shape}")
    if classes.min() < 0 or classes.max() >= num_classes:
        bad = classes[(classes < 0) | (classes >= num_classes)]
        raise ValueError(f"class subset index {int(bad[0])} is outside 0..{num_classes - 1}; "
                         "pass indices in the canonical label space of the logits")
    return classes


def restrict(logits: np.ndarray, labels: np.ndarray, classes: np.ndarray | None) -> Restricted:
    """Keep only the logit columns of `classes` and map labels into it (ImageNet-A/R rule, Hendrycks et al. 2021).

    Argmax, top-k and softmax over the result are the restricted decisions the paper scores; ties
    take the first column, i.e. the lowest canonical index of an ascending subset, as an unrestricted
    argmax does. A label outside the subset is an error, never a silent miss.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if logits.shape[0] != labels.shape[0]:
        raise ValueError(f"{logits.shape[0]} logit rows but {labels.shape[0]} labels")
    num_classes = logits.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"label {int(labels[(labels < 0) | (labels >= num_classes)][0])} is outside "
                         f"0..{num_classes - 1}")
    if classes is None:
        return Restricted(logits, labels, np.arange(num_classes))
    classes = _check_subset(classes, num_classes)
    position = np.full(num_classes, -1, dtype=np.int64)
    position[classes] = np.arange(classes.size)
    mapped = position[labels]
    if (mapped < 0).any():
        raise ValueError(f"labels {np.unique(labels[mapped < 0])[:10].tolist()} are not among the {classes.size} "
                         "classes scored; labels must be canonical 1000-class indices inside the subset "
                         "(check the dataset's label space and class index list)")
    return Restricted(logits[:, classes], mapped, classes)


# --- a model's output order: mapped to the canonical order from what the model declares, never assumed -----------

BACKGROUND_NAMES = frozenset({"background", "unknown", "none", "__background__", "other"})
WNID_PATTERN = r"^n\d{8}$"


class LabelMapError(ValueError):
    """A model's outputs cannot be mapped to the 1000 ImageNet classes from what it declares."""


@dataclass(frozen=True)
class ClassNames:
    """The names one canonical class goes by (lower case): WordNet's first lemma, all its lemmas as one string (what
    most heads' id2label hold), and every name it is known by (each lemma, the joined string, and with `openai`,
    OpenAI's cleaned name)."""

    first: str
    joined: str
    names: frozenset[str]


@lru_cache(maxsize=2)
def class_names(openai: bool = False) -> tuple[ClassNames, ...]:
    """Per canonical class, the names it goes by: WordNet's lemmas (timm's package data), and OpenAI's cleaned name
    when asked (it comes with open_clip, a 2 s import: only consulted when WordNet's names do not map a head)."""
    lemmas = dict(line.split("\t", 1) for line in timm_info_file("imagenet_synset_to_lemma.txt").read_text().splitlines())
    extra = imagenet_classnames() if openai else ("",) * NUM_IMAGENET_CLASSES
    found = []
    for wnid, other in zip(imagenet_wnids(), extra):
        words = [w.strip().lower() for w in lemmas[wnid].split(",")]
        joined = ", ".join(words)
        found.append(ClassNames(words[0], joined, frozenset([*words, joined, *([_normal(other)] if other else [])])))
    return tuple(found)


def _normal(label: str) -> str:
    return " ".join(str(label).replace("_", " ").lower().split())


def _names_class(label: str, known: ClassNames) -> bool:
    """Whether an output's label names a class (one of its names, or its first lemma with a disambiguating suffix,
    as torchvision's 'crane bird')."""
    return label in known.names or label.startswith(known.first + " ")


def _by_position(labels: list[str], offset: int, known: tuple[ClassNames, ...]) -> np.ndarray | None:
    """Columns when label i + offset names class i for all 1000 classes (the canonical order), else None."""
    if all(_names_class(_normal(labels[i + offset]), known[i]) for i in range(NUM_IMAGENET_CLASSES)):
        return np.arange(NUM_IMAGENET_CLASSES) + offset
    return None


def _classes_named(label: str, known: tuple[ClassNames, ...]) -> list[int]:
    """The classes a label names, by the narrowest test that names any: all its lemmas; its first lemma; any one of
    its names; its first lemma with a suffix."""
    for test in (lambda names: label == names.joined, lambda names: label == names.first,
                 lambda names: label in names.names, lambda names: label.startswith(names.first + " ")):
        found = [index for index, names in enumerate(known) if test(names)]
        if found:
            return found
    return []


def _by_name(labels: list[str], offset: int, known: tuple[ClassNames, ...]) -> np.ndarray:
    """Columns of a head in another order: each output's class found by its name; an output that names no class or
    several (two classes share the lemma 'crane'), or two outputs naming one class, is refused."""
    columns = np.full(NUM_IMAGENET_CLASSES, -1, dtype=np.int64)
    for column, label in enumerate(labels[offset:], start=offset):
        found = _classes_named(_normal(label), known)
        if len(found) != 1:
            problem = "no ImageNet class" if not found else f"ImageNet classes {found}"
            raise LabelMapError(f"the model's labels are not in the canonical order, and its output {column} "
                                f"({label!r}) names {problem}; declare the model's classes ('models.<id>.labels', "
                                "wnids) or check its head")
        if columns[found[0]] >= 0:
            raise LabelMapError(f"outputs {columns[found[0]]} and {column} of the model both name ImageNet class "
                                f"{found[0]} ({label!r}); its labels are ambiguous")
        columns[found[0]] = column
    return columns


def _by_names(labels: list[str], offset: int) -> np.ndarray:
    """Columns from class names: in the canonical order, else by name; WordNet's names first, then with OpenAI's."""
    for openai in (False, True):  # OpenAI's names (an open_clip import) only when WordNet's do not place them
        positional = _by_position(labels, offset, class_names(openai))
        if positional is not None:
            return positional
    try:
        return _by_name(labels, offset, class_names())
    except LabelMapError:
        return _by_name(labels, offset, class_names(openai=True))


def output_columns(labels: list[str]) -> np.ndarray:
    """For each canonical class (sorted ILSVRC-2012 wnids), the model output that is it, from the labels the model
    declares: wnids (a 21k or 11k head is cut to the 1000 by wnid), or class names in the canonical order, with a
    background output first (1001-way heads), or in another order; refused with the reason when unmappable."""
    labels = [str(label) for label in labels]
    background = bool(labels) and _normal(labels[0]) in BACKGROUND_NAMES
    offset = 1 if background and (len(labels) == NUM_IMAGENET_CLASSES + 1 or _all_wnids(labels[1:])) else 0
    if _all_wnids(labels[offset:]):
        where = {wnid: column for column, wnid in enumerate(labels) if column >= offset}
        absent = [w for w in imagenet_wnids() if w not in where]
        if absent:
            raise LabelMapError(f"the model's {len(labels) - offset} wnid outputs lack {len(absent)} of the 1000 "
                                f"ImageNet classes, e.g. {absent[:3]}; its head is not an ImageNet-1k head")
        return np.asarray([where[w] for w in imagenet_wnids()], dtype=np.int64)
    if len(labels) - offset != NUM_IMAGENET_CLASSES:
        raise LabelMapError(f"the model has {len(labels)} outputs named {labels[:3]}...: not the 1000 ImageNet classes "
                            "(a 21k head needs wnid labels; a feature extractor: set 'head: none')")
    return _by_names(labels, offset)


def _all_wnids(labels: list[str]) -> bool:
    return bool(labels) and all(re.match(WNID_PATTERN, label) for label in labels)
