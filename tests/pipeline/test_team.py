"""Shared decoding's coordination: which models a job also extracts, and when a model's job adopts a staged cache
(pipeline.team). The extraction itself is compared with one job per model in tests/extract and tests/workflow."""

import os

import numpy as np
import pytest

from beyond_imagenet.pipeline import team
from beyond_imagenet.pipeline.team import adopt_staged, claim_team_members, params_digest, staged_path, up_to_date
from beyond_imagenet.store.cache import PARAMS_DIGEST_KEY, CacheFileWriter, WriterLock, lock_path, read_outputs

pytestmark = pytest.mark.faults


def _cache(path, digest, finish=True):
    writer = CacheFileWriter(path, {"job": "val", PARAMS_DIGEST_KEY: digest}, batch_size=2)
    group = writer.group("val", "standard", ["a", "b"], [1, 2], {"dataset": "val", "model": "m"})
    group.write(0, np.ones((2, 1000), np.float32), None)
    writer.finish() if finish else writer.close()


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the staged caches live under results/ of the run, like every output
    return tmp_path


def test_the_digest_is_of_the_parameters_not_of_their_spelling():
    assert params_digest({"a": 1, "b": [1, 2]}) == params_digest({"b": [1, 2], "a": 1})
    assert params_digest({"a": 1}) != params_digest({"a": 2})


def test_a_staged_cache_of_exactly_these_parameters_is_adopted(run):
    _cache(staged_path("m", "val"), "d1")
    final = run / "results/outputs/m/val.h5"
    assert adopt_staged("m", "val", "d1", final)
    assert final.exists() and not staged_path("m", "val").exists() and up_to_date(final, "d1")
    assert read_outputs(final).logits.shape == (2, 1000)


@pytest.mark.parametrize("case", ["other parameters", "unfinished", "none"])
def test_no_staged_cache_of_these_parameters_means_the_job_extracts_itself(run, case):
    if case != "none":
        _cache(staged_path("m", "val"), "d0" if case == "other parameters" else "d1", finish=case != "unfinished")
    final = run / "results/outputs/m/val.h5"
    assert not adopt_staged("m", "val", "d1", final)
    assert not final.exists()


def test_a_job_waits_while_another_extracts_its_model_then_adopts(run):
    staged = staged_path("m", "val")
    staged.parent.mkdir(parents=True)
    lock = WriterLock(lock_path(staged))  # a live process (this one) writes it
    waits = []

    def leader_finishes(seconds):
        waits.append(seconds)
        lock.release()
        _cache(staged, "d1")

    assert adopt_staged("m", "val", "d1", run / "final.h5", sleep=leader_finishes)
    assert waits == [team.WAIT_POLL_S] and (run / "final.h5").exists()


def test_a_leader_takes_only_models_without_an_up_to_date_cache_that_nobody_writes(run):
    final_of = lambda model: run / f"results/outputs/{model}/val.h5"  # noqa: E731
    _cache(final_of("in_place"), "d1")
    _cache(staged_path("staged", "val"), "d1")
    _cache(final_of("outdated"), "d0")
    final_of("running").parent.mkdir(parents=True)
    running = WriterLock(lock_path(final_of("running")))  # its own job started and claimed it
    others = {name: "d1" for name in ("me", "in_place", "staged", "outdated", "running", "no_weights", "new")}
    chosen = claim_team_members("val", "me", others, final_of, ready=lambda model: model != "no_weights")
    assert [model for model, _ in chosen] == ["outdated", "new"]
    assert all(lock.held and lock_path(staged_path(m, "val")).exists() for m, lock in chosen)
    again = claim_team_members("val", "other", others, final_of, ready=lambda model: True)
    assert "new" not in [model for model, _ in again]  # claimed by the first: a second leader leaves it alone
    for _, lock in chosen + again:
        lock.release()
    running.release()
    assert os.listdir(run / "results/teams/new") == []
