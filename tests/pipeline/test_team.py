"""Shared decoding's coordination: which models a job also extracts, and when a model's job adopts a staged cache
(pipeline.team). The extraction itself is compared with one job per model in tests/extract and tests/workflow."""

import os
import time

import numpy as np
import pytest

from beyond_imagenet.config.specs import ModelSpec, ZeroShotSpec
from beyond_imagenet.pipeline import team
from beyond_imagenet.pipeline.team import (
    Heartbeat,
    TeamCandidate,
    adopt_staged,
    claim_team_members,
    made_from_digest,
    params_digest,
    staged_path,
    staged_up_to_date,
)
from beyond_imagenet.store.cache import (
    MADE_FROM_KEY,
    PARAMS_DIGEST_KEY,
    CacheFileWriter,
    WriterLock,
    lock_holder,
    lock_path,
    read_outputs,
)

pytestmark = pytest.mark.faults


def _cache(path, params="p1", made_from="m1", finish=True, keys=True):
    identity = {"job": "val", **({PARAMS_DIGEST_KEY: params, MADE_FROM_KEY: made_from} if keys else {})}
    writer = CacheFileWriter(path, identity, batch_size=2)
    group = writer.group("val", "standard", ["a", "b"], [1, 2], {"dataset": "val", "model": "m"})
    group.write(0, np.ones((2, 1000), np.float32), None)
    writer.finish() if finish else writer.close()


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the staged caches live under results/ of the run, like every output
    return tmp_path


def test_the_digests_are_of_the_parameters_and_inputs_not_of_their_spelling(tmp_path):
    assert params_digest({"a": 1, "b": [1, 2]}) == params_digest({"b": [1, 2], "a": 1})
    assert params_digest({"a": 1}) != params_digest({"a": 2})
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    before = made_from_digest({"a": 1}, [str(weights)])
    assert made_from_digest({"a": 1}, [str(weights)]) == before
    os.utime(weights, ns=(1, 1))  # a weights file replaced (Snakemake judges it by its time)
    assert made_from_digest({"a": 1}, [str(weights)]) != before


def test_a_library_upgrade_changes_what_a_staged_cache_must_be_made_from(tmp_path, monkeypatch):
    first = made_from_digest({"a": 1}, [])
    monkeypatch.setattr(team, "library_versions", lambda: {"timm": "99"})
    assert made_from_digest({"a": 1}, []) != first


def test_a_staged_cache_made_from_exactly_this_is_adopted(run):
    _cache(staged_path("m", "val"))
    final = run / "results/outputs/m/val.h5"
    assert adopt_staged("m", "val", "m1", final)
    assert final.exists() and not staged_path("m", "val").exists()
    assert read_outputs(final).logits.shape == (2, 1000)


@pytest.mark.parametrize("case", ["made from something else", "unfinished", "none"])
def test_no_staged_cache_made_from_this_means_the_job_extracts_itself(run, case):
    if case != "none":
        _cache(staged_path("m", "val"), made_from="m0" if case == "made from something else" else "m1",
               finish=case != "unfinished")
    final = run / "results/outputs/m/val.h5"
    assert not adopt_staged("m", "val", "m1", final)
    assert not final.exists()
    if case == "made from something else":
        assert not staged_path("m", "val").exists()  # stale: deleted, never adopted later


def test_a_job_waits_while_another_extracts_its_model_then_adopts(run):
    staged = staged_path("m", "val")
    staged.parent.mkdir(parents=True)
    lock = WriterLock(lock_path(staged))  # a live process (this one) writes it
    waits = []

    def leader_finishes(seconds):
        waits.append(seconds)
        lock.release()
        _cache(staged)

    assert adopt_staged("m", "val", "m1", run / "final.h5", sleep=leader_finishes)
    assert waits == [team.WAIT_POLL_S] and (run / "final.h5").exists()


def _candidate(model, ready=True):
    return TeamCandidate(ModelSpec.from_config(model, {"source": "timm", "name": "x", "weights": "hub"}), ZeroShotSpec(), None, "p1",
                         "m1", ready)


def test_a_leader_takes_only_models_without_a_cache_that_nobody_writes(run):
    final_of = lambda model: run / f"results/outputs/{model}/val.h5"  # noqa: E731
    _cache(final_of("in_place"))
    _cache(final_of("before_digests"), keys=False)  # made before caches recorded digests: Snakemake judges it
    _cache(staged_path("staged", "val"))
    _cache(final_of("outdated"), params="p0")
    _cache(staged_path("stale", "val"), made_from="m0")
    final_of("running").parent.mkdir(parents=True)
    running = WriterLock(lock_path(final_of("running")))  # its own job started and claimed it
    names = ("me", "in_place", "before_digests", "staged", "outdated", "stale", "running", "no_weights", "new")
    candidates = {name: _candidate(name, ready=name != "no_weights") for name in names}
    chosen = claim_team_members("val", "me", candidates, final_of)
    assert [model for model, _ in chosen] == ["outdated", "stale", "new"]
    assert all(lock.held and lock_path(staged_path(m, "val")).exists() for m, lock in chosen)
    again = claim_team_members("val", "other", candidates, final_of)
    assert not {"outdated", "stale", "new"} & {model for model, _ in again}  # claimed: a second leader leaves them
    for _, lock in chosen + again:
        lock.release()
    running.release()
    assert not staged_up_to_date(staged_path("new", "val"), "m1")


def test_a_lock_is_never_seen_empty_and_an_unreadable_recent_one_counts_as_alive(run):
    path = run / "x.h5.partial.lock"
    lock = WriterLock(path)
    assert path.read_text().split()[1] == str(os.getpid()) and lock_holder(path)[2]
    lock.release()
    path.write_text("")  # another writer mid-way (a file system without hard links), or damaged
    assert lock_holder(path)[2]
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    assert not lock_holder(path)[2]  # an hour untouched: a lost job's


def test_the_heartbeat_touches_every_lock_the_job_holds(run, monkeypatch):
    monkeypatch.setattr(team, "HEARTBEAT_S", 0.05)
    locks = [WriterLock(run / "a.lock")]
    old = time.time() - 100
    os.utime(run / "a.lock", (old, old))
    with Heartbeat(locks):
        locks.append(WriterLock(run / "b.lock"))  # claimed after the heartbeat started
        os.utime(run / "b.lock", (old, old))
        time.sleep(0.3)
    assert all(time.time() - (run / name).stat().st_mtime < 5 for name in ("a.lock", "b.lock"))
    for lock in locks:
        lock.release()
