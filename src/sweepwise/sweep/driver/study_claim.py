"""One sweep at a time per study. Two sweeps of one study (the same command run twice, in two shells, or again
on a login node while the first still runs) would each fail the other's running trials as interrupted, continue
them twice and draw duplicate parameters; the second stops instead, in one line, before it writes anything.

A sweep claims its study by recording its process on it (host, pid and the process's start time, so that a reused
pid is not taken for it) and renews the record every `BEAT_SECONDS`. A claim counts while its process lives: on
the same host that is checked directly; from another host, by a renewal within `STALE_AFTER_SECONDS`. A killed
sweep's claim therefore lapses at once on its own host, and within that time elsewhere.
"""

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from sweepwise.errors import ConfigError
from sweepwise.spec.sweep_schedule import Schedule
from sweepwise.study.records import SWEPT_BY_ATTR
from sweepwise.sweep.driver.continuations import has_continuation
from sweepwise.sweep.driver.trial_flights import results

BEAT_SECONDS = 30.0
STALE_AFTER_SECONDS = 3 * BEAT_SECONDS


def process_start(pid: int) -> str | None:
    """When process `pid` started, in clock ticks since boot (Linux's /proc); None where that cannot be read, or
    where the process has ended but is not yet reaped (a zombie sweeps nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the fields after the command's name, from field 3 (the state) on
    return None if fields[0] == "Z" else fields[19]  # field 22: the start time


def this_process() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": process_start(pid), "beat": time.time()}


def is_live(claim: dict[str, Any] | None, now: float | None = None) -> bool:
    """Whether the process that recorded `claim` may still be sweeping (see the module's notes)."""
    if not claim:
        return False
    if claim.get("host") == socket.gethostname():
        return _runs_here(int(claim["pid"]), claim.get("started"))
    return (now if now is not None else time.time()) - float(claim.get("beat", 0)) < STALE_AFTER_SECONDS


def _runs_here(pid: int, started: str | None) -> bool:
    """Whether process `pid` of this host is the one that started at `started` (the pid alone, without /proc)."""
    if Path("/proc/self/stat").exists():
        return started is not None and process_start(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def has_work(study: optuna.Study, n_trials: int, schedule: Schedule | None = None) -> bool:
    """Whether a sweep of `n_trials` would change the study's trials: trials left running to settle, continuations
    queued, trials to run, or paused trials the schedule continues. A sweep of a complete study only reads it, and
    claims nothing."""
    trials = study.get_trials(deepcopy=False)
    if any(trial.state in (TrialState.RUNNING, TrialState.WAITING) for trial in trials):
        return True
    if len(results(trials)) < n_trials:
        return True
    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    return has_continuation(trials, schedule, maximize)


def check_unclaimed(study: optuna.Study) -> None:
    """Raise a one-line error when another live process is sweeping `study`."""
    claim: dict[str, Any] | None = study.user_attrs.get(SWEPT_BY_ATTR)
    if claim is None or not is_live(claim) or _is_this_process(claim):
        return
    seen = time.strftime("%H:%M:%S", time.localtime(float(claim["beat"])))
    raise ConfigError(
        "hydra.sweeper.study_name",
        study.study_name,
        f"another sweep of this study is running, process {claim['pid']} on {claim['host']} (last seen at {seen}): "
        "let it end, or stop it (Ctrl-C); the same command then continues the study",
    )


class StudyClaim:
    """The claim of this process on `study`, renewed in a background thread until `release`."""

    def __init__(self, study: optuna.Study) -> None:
        self.study = study
        self.stopped = threading.Event()
        self.mine = this_process()
        check_unclaimed(study)  # checked again now: a preflight may have run since the sweep's first check
        study.set_user_attr(SWEPT_BY_ATTR, self.mine)
        check_unclaimed(study)  # two sweeps that claimed at the same moment: the one whose record lost stops
        self.thread = threading.Thread(target=self._renew, name="sweepwise-study-claim", daemon=True)
        self.thread.start()

    def _renew(self) -> None:
        while not self.stopped.wait(BEAT_SECONDS):
            self.mine = {**self.mine, "beat": time.time()}
            try:
                self.study.set_user_attr(SWEPT_BY_ATTR, self.mine)
            except Exception:  # a busy or unreachable storage: the sweep's own writes report it
                continue  # the next renewal tries again; a missed one only ages the claim seen from elsewhere

    def release(self) -> None:
        """Stop renewing, and leave the study unclaimed."""
        self.stopped.set()
        self.thread.join()
        self.study.set_user_attr(SWEPT_BY_ATTR, None)


@contextlib.contextmanager
def released_on_error(claim: StudyClaim | None) -> Iterator[None]:
    """Release `claim` if the block raises: a sweep that fails as it starts (its MLflow server down, say) would
    otherwise leave its study claimed, seen from another host, until the claim goes stale."""
    try:
        yield
    except BaseException:
        if claim is not None:
            with contextlib.suppress(Exception):  # the storage that failed may fail this too: its error is the one
                claim.release()
        raise


def _is_this_process(claim: dict[str, Any]) -> bool:
    return bool(claim.get("host") == socket.gethostname() and claim.get("pid") == os.getpid())
