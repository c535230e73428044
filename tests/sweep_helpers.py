"""Helpers for sweep tests: run the toy task, open the study and the MLflow runs a sweep left behind."""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import optuna
from helpers import REPO, mlflow_client, run_script

from sweepwise.study.records import RAN_ATTR
from sweepwise.study.storage import open_storage

TOY = REPO / "tests" / "apps" / "toy.py"


def run_toy(args: Sequence[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return run_script(TOY, ["-m", *args], cwd, timeout)


def load_study(cwd: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(str(cwd / "studies" / f"{name}.journal")))


def study_so_far(cwd: Path, name: str) -> optuna.Study | None:
    """The study of a sweep that is still starting or running; None before the sweep has created it."""
    if not (cwd / "studies" / f"{name}.journal").exists():
        return None
    try:
        return load_study(cwd, name)
    except KeyError:  # the journal file is opened before the study is created in it
        return None


def sweep_runs(cwd: Path, experiment: str) -> tuple[list, list]:
    """(parent runs, child runs) of `experiment` in `cwd/mlflow.db`."""
    client = mlflow_client(cwd)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id], max_results=1000)
    parents = [run for run in runs if run.data.tags.get("sweepwise.role") == "sweep"]
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    return parents, children


def runs_so_far(cwd: Path, experiment: str) -> list:
    """The child runs of `experiment` a running sweep has created in `cwd/mlflow.db` so far: none before the sweep
    has created the store (a reader creating it too would race the sweep) and the experiment in it."""
    if not (cwd / "mlflow.db").exists():
        return []
    client = mlflow_client(cwd)
    if client.get_experiment_by_name(experiment) is None:
        return []
    return sweep_runs(cwd, experiment)[1]


def states(study: optuna.Study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def most_at_once(study: optuna.Study) -> int:
    """The largest number of trials whose runs overlapped in time."""
    edges = sorted(
        (time, change)
        for trial in study.trials
        for time, change in zip(trial.user_attrs[RAN_ATTR], (1, -1), strict=True)
    )
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak


def killed_once(command: list[str], cwd: Path, study: str, running: Callable[[optuna.trial.FrozenTrial], bool]) -> None:
    """Start `command` (a sweep) in `cwd` and SIGKILL it once a trial of `study` that `running` picks is RUNNING;
    asserts the sweep had not ended by then."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sweep = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.1)
        found = study_so_far(cwd, study)
        if found is not None and any(t.state.name == "RUNNING" and running(t) for t in found.trials):
            break
    assert sweep.poll() is None, f"the sweep ended before a trial it was waited for ran: {command}"
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
