"""Shared decoding (`extraction.share_decoding`): the models of a run that read the same images decode them once.

The workflow's jobs stay one per (model, extraction job), so the DAG, the caches and what reruns are exactly those
of one job per model. What changes is what a job does when it runs: the first job of an extraction job name to
run (the leader) also extracts every other model of the run whose cache for that job is neither in place nor
staged for its current parameters, each image decoded once and each distinct geometry applied once for all of
them (`extract.run.extract_team`); the other models' caches are staged under `results/teams/` and each model's own
job, when it runs, adopts its staged cache (a rename) instead of extracting. A staged cache is taken only when it
is complete and was made from exactly the parameters the job's rule has now (their digest is in its identity).

Why jobs coordinate at run time and not through a team rule in the DAG: a rule whose output every model's job
reads makes adding a model rerun every model's job (or, with `ancient`, leaves the new model's job unscheduled until
the next invocation, a Snakemake behaviour); here adding a model reruns nothing of the others, a model's cache is
complete or absent, a killed leader resumes per model and group, and switching the option on or off reruns nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.specs import ModelSpec, ZeroShotSpec
from ..store.cache import (
    MADE_FROM_KEY,
    PARAMS_DIGEST_KEY,
    CacheError,
    WriterLock,
    finished_identity,
    library_versions,
    lock_holder,
    lock_path,
)
from . import targets

log = logging.getLogger(__name__)

STAGED_CACHE = "results/teams/{model}/{job}.h5"
WAIT_POLL_S = 5.0
WAIT_LOG_S = 60.0
HEARTBEAT_S = 30.0  # well inside STALE_LOCK_S: a lock this job holds never looks lost to another host


def params_digest(params: Mapping[str, Any]) -> str:
    """The digest of an extraction job's parameters (what its rule's params say): recorded in its cache."""
    return _digest(params)


def made_from_digest(params: Mapping[str, Any], input_files: Sequence[str]) -> str:
    """The digest of everything a staged cache must have been made from to be adopted: the job's parameters, its
    input files (weights, zero-shot head: size and modification time, as Snakemake judges them) and the versions of
    the libraries that shape the numbers."""
    stamps = {}
    for name in input_files:
        path = Path(name)
        stamps[name] = [path.stat().st_size, path.stat().st_mtime_ns] if path.is_file() else None
    return _digest({"params": params, "inputs": stamps, "versions": library_versions()})


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def staged_path(model: str, job: str) -> Path:
    """Where a leader leaves another model's cache of this job until that model's job adopts it."""
    return Path(STAGED_CACHE.format(model=model, job=job))


def staged_up_to_date(path: Path, made_from: str) -> bool:
    """Whether `path` is a complete cache made from exactly this (parameters, inputs, library versions) digest."""
    identity = finished_identity(path)
    return identity is not None and identity.get(MADE_FROM_KEY) == made_from


def final_in_place(path: Path, params: str) -> bool:
    """Whether a model's own cache is there for these parameters, as far as a leader can tell: complete, and made
    from these parameters or before their digest was recorded (Snakemake, not the leader, judges such a cache; when
    it reruns that model's job, the job extracts the model itself)."""
    identity = finished_identity(path)
    return identity is not None and identity.get(PARAMS_DIGEST_KEY, params) == params


def being_written(path: Path) -> bool:
    """Whether a live process writes this cache now (its writer lock)."""
    return lock_path(path).exists() and lock_holder(lock_path(path))[2]


def adopt_staged(model: str, job: str, made_from: str, final: Path,
                 sleep: Callable[[float], None] = time.sleep) -> bool:
    """Move this model's staged cache into place when a leader made it from exactly what this job would use
    (waiting while a leader still writes it); False when there is none to take, and the job extracts the model
    itself. A staged cache made from something else is deleted."""
    staged = staged_path(model, job)
    began = last_log = time.monotonic()
    while being_written(staged):
        if time.monotonic() - last_log >= WAIT_LOG_S or last_log == began:
            log.info("%s: another job extracts %s for %s (shared decoding); waiting for it", staged, job, model)
            last_log = time.monotonic()
        sleep(WAIT_POLL_S)
    if not staged_up_to_date(staged, made_from):
        if staged.exists():
            log.warning("%s was made from other parameters, inputs or library versions than %s's job has now; "
                        "deleted, the job extracts the model itself", staged, model)
            staged.unlink()
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, final)  # same file system (results/): the cache appears whole or not at all
    log.info("%s: adopted %s, extracted with the others of %s (shared decoding)", final, staged, job)
    return True


def claim(path: Path) -> WriterLock | None:
    """This cache's writer lock, taken now; None when a live process holds it."""
    try:
        return WriterLock(lock_path(path))
    except CacheError:
        return None


@dataclass(frozen=True)
class TeamCandidate:
    """Another model of the run, as a leader would extract it: its spec, head, digests, readiness."""

    spec: ModelSpec
    zero_shot: ZeroShotSpec
    head_path: Path | None
    params: str  # params_digest of its job's rule params
    made_from: str  # made_from_digest: what a staged cache of it must have been made from
    ready: bool  # its weights and zero-shot head are on disk


def claim_team_members(job: str, me: str, candidates: Mapping[str, TeamCandidate], final_of: Callable[[str], Path]
                       ) -> list[tuple[str, WriterLock]]:
    """The other models this job also extracts, each with its staged cache's writer lock claimed: not in place,
    not staged from what its job would use, not being written by another job (a model's own job claims its cache
    first thing, so two jobs that start together each extract their own model), and with their weights and
    zero-shot head on disk."""
    members = []
    for model, candidate in candidates.items():
        if model == me:
            continue
        staged, final = staged_path(model, job), final_of(model)
        if final_in_place(final, candidate.params) or staged_up_to_date(staged, candidate.made_from) \
                or being_written(final):
            continue
        if not candidate.ready:
            log.info("%s: not extracted with %s here: its weights or zero-shot head are not there yet", model, me)
            continue
        staged.parent.mkdir(parents=True, exist_ok=True)
        lock = claim(staged)
        if lock is not None:
            members.append((model, lock))
    return members


def model_inputs(config: dict[str, Any], model: str) -> list[str]:
    """The files a model's extraction is made from (its rule's weights and head inputs)."""
    return targets.weights_input(config, model) + targets.head_input(config, model)


def team_candidates(config: dict[str, Any], job: str) -> dict[str, TeamCandidate]:
    """Every model of the run as a candidate for this extraction job, with the digests its own job computes (the
    same functions of the same config)."""
    candidates = {}
    for model in config["models"]:
        params = targets.extraction_params(config, model, job)
        inputs = model_inputs(config, model)
        head = targets.head_input(config, model)
        candidates[model] = TeamCandidate(ModelSpec.from_config(model, params["model"]),
                                          ZeroShotSpec(**(params["zero_shot"] or {})),
                                          Path(head[0]) if head else None, params_digest(params),
                                          made_from_digest(params, inputs), all(Path(f).is_file() for f in inputs))
    return candidates


class Heartbeat:
    """Touches the writer locks a job holds every HEARTBEAT_S while it runs (building models, waiting for a GPU or a
    leader), so that a job on another host never takes them for a lost job's."""

    def __init__(self, locks: list[WriterLock]) -> None:
        self.locks = locks  # the job's list: locks claimed later are touched too
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="lock-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()

    def _beat(self) -> None:
        while not self.stopped.wait(HEARTBEAT_S):
            for lock in list(self.locks):
                try:
                    lock.touch()
                except OSError:  # released (and removed) between the check and the touch
                    pass
