"""One sweep at a time per study: the claim a sweep records on its study, and when another process's claim counts."""

import os
import socket
import subprocess
import time

import optuna
import pytest

from sweepwise.errors import ConfigError
from sweepwise.study.records import SWEPT_BY_ATTR
from sweepwise.sweep.driver import study_claim
from sweepwise.sweep.driver.study_claim import (
    StudyClaim,
    check_unclaimed,
    has_work,
    is_live,
    process_start,
    released_on_error,
)


def claim_of(pid: int, host: str | None = None, beat: float | None = None) -> dict:
    return {
        "host": host or socket.gethostname(),
        "pid": pid,
        "started": process_start(pid),
        "beat": time.time() if beat is None else beat,
    }


@pytest.fixture
def other_process():
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def test_a_claim_counts_while_its_process_lives_on_this_host(other_process: subprocess.Popen):
    claim = claim_of(other_process.pid)
    assert is_live(claim)
    assert not is_live({**claim, "started": "1"})  # the pid reused by another process
    other_process.kill()
    deadline = time.monotonic() + 10
    while is_live(claim) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_live(claim)  # killed, not yet reaped by its parent: its claim has lapsed already
    other_process.wait()
    assert not is_live(claim)  # killed: its claim lapses at once, whatever its last renewal


def test_a_claim_from_another_host_counts_until_its_renewals_stop():
    now = time.time()
    assert is_live(claim_of(1, host="elsewhere", beat=now - 10), now)
    assert not is_live(claim_of(1, host="elsewhere", beat=now - study_claim.STALE_AFTER_SECONDS - 1), now)


def test_another_live_sweep_stops_this_one_in_one_line_naming_it(other_process: subprocess.Popen):
    study = optuna.create_study(study_name="s")
    study.set_user_attr(SWEPT_BY_ATTR, claim_of(other_process.pid))
    with pytest.raises(ConfigError) as stopped:
        check_unclaimed(study)
    line = f"error: {stopped.value}"
    assert "\n" not in line and line.startswith("error: hydra.sweeper.study_name='s': another sweep of this study")
    assert f"process {other_process.pid} on {socket.gethostname()}" in line
    with pytest.raises(ConfigError):
        StudyClaim(study)  # nor does the claim take it over
    other_process.kill()
    other_process.wait()
    check_unclaimed(study)  # its sweep was killed: the study is free


def test_a_claim_is_renewed_while_held_and_left_empty_when_released(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(study_claim, "BEAT_SECONDS", 0.05)
    study = optuna.create_study()
    claim = StudyClaim(study)
    first = study.user_attrs[SWEPT_BY_ATTR]
    assert first["pid"] == os.getpid() and is_live(first)
    time.sleep(0.3)
    assert study.user_attrs[SWEPT_BY_ATTR]["beat"] > first["beat"]
    claim.release()
    assert study.user_attrs[SWEPT_BY_ATTR] is None
    check_unclaimed(study)


def test_a_sweep_that_fails_as_it_starts_leaves_its_study_unclaimed():
    study = optuna.create_study()
    claim = StudyClaim(study)
    with pytest.raises(ConnectionError), released_on_error(claim):
        raise ConnectionError("the MLflow server does not answer")
    assert study.user_attrs[SWEPT_BY_ATTR] is None and not claim.thread.is_alive()
    held = StudyClaim(study)
    with released_on_error(held):
        pass
    assert study.user_attrs[SWEPT_BY_ATTR] == held.mine  # a start that went well keeps its claim
    held.release()


def test_only_a_sweep_with_work_to_do_claims_its_study():
    study = optuna.create_study()
    assert has_work(study, 1)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    assert has_work(study, 3) and not has_work(study, 2)
    study.enqueue_trial({"x": 0.5})
    assert has_work(study, 2)  # a queued continuation
