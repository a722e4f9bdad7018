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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.specs import ModelSpec, ZeroShotSpec
from ..store.cache import PARAMS_DIGEST_KEY, CacheError, WriterLock, finished_identity, lock_holder, lock_path
from . import targets

log = logging.getLogger(__name__)

STAGED_CACHE = "results/teams/{model}/{job}.h5"
WAIT_POLL_S = 5.0
WAIT_LOG_S = 60.0


def params_digest(params: Mapping[str, Any]) -> str:
    """The digest of an extraction job's parameters (what its rule's params say): recorded in its cache."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def staged_path(model: str, job: str) -> Path:
    """Where a leader leaves another model's cache of this job until that model's job adopts it."""
    return Path(STAGED_CACHE.format(model=model, job=job))


def up_to_date(path: Path, digest: str) -> bool:
    """Whether `path` is a complete cache made from parameters with this digest."""
    identity = finished_identity(path)
    return identity is not None and identity.get(PARAMS_DIGEST_KEY) == digest


def being_written(path: Path) -> bool:
    """Whether a live process writes this cache now (its writer lock)."""
    return lock_path(path).exists() and lock_holder(lock_path(path))[2]


def adopt_staged(model: str, job: str, digest: str, final: Path,
                 sleep: Callable[[float], None] = time.sleep) -> bool:
    """Move this model's staged cache into place when a leader made it for exactly these parameters (waiting while
    a leader still writes it); False when there is none to take, and the job extracts the model itself."""
    staged = staged_path(model, job)
    began = last_log = time.monotonic()
    while being_written(staged):
        if time.monotonic() - last_log >= WAIT_LOG_S or last_log == began:
            log.info("%s: another job extracts %s for %s (shared decoding); waiting for it", staged, job, model)
            last_log = time.monotonic()
        sleep(WAIT_POLL_S)
    if not up_to_date(staged, digest):
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


def claim_team_members(job: str, me: str, others: Mapping[str, str], final_of: Callable[[str], Path],
                       ready: Callable[[str], bool]) -> list[tuple[str, WriterLock]]:
    """The other models (id -> params digest) this job also extracts, each with its staged cache's writer lock
    claimed: neither in place nor staged for their current parameters, not being written by another job (their own
    job claims their cache first thing, so two jobs that start together each extract their own model), and with
    their inputs (weights, zero-shot head) on disk."""
    members = []
    for model, digest in others.items():
        if model == me:
            continue
        staged, final = staged_path(model, job), final_of(model)
        if up_to_date(final, digest) or up_to_date(staged, digest) or being_written(final):
            continue
        if not ready(model):
            log.info("%s: not extracted with %s here: its weights or zero-shot head are not there yet", model, me)
            continue
        staged.parent.mkdir(parents=True, exist_ok=True)
        lock = claim(staged)
        if lock is not None:
            members.append((model, lock))
    return members


@dataclass(frozen=True)
class TeamCandidate:
    """Another model of the run, as a leader would extract it: its spec, head, parameters' digest, readiness."""

    spec: ModelSpec
    zero_shot: ZeroShotSpec
    head_path: Path | None
    digest: str
    ready: bool  # its weights and zero-shot head are on disk


def team_candidates(config: dict[str, Any], job: str) -> dict[str, TeamCandidate]:
    """Every model of the run as a candidate for this extraction job, with the digest its own job's rule params
    have (targets.extraction_params: the same function)."""
    candidates = {}
    for model in config["models"]:
        params = targets.extraction_params(config, model, job)
        inputs = targets.weights_input(config, model) + targets.head_input(config, model)
        head = targets.head_input(config, model)
        candidates[model] = TeamCandidate(ModelSpec.from_config(model, params["model"]),
                                          ZeroShotSpec(**(params["zero_shot"] or {})),
                                          Path(head[0]) if head else None, params_digest(params),
                                          all(Path(f).is_file() for f in inputs))
    return candidates
