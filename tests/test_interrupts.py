"""A sweep interrupted at any moment of its life, from its first second to its end-of-sweep report, by Ctrl-C (SIGINT
to its process group, as a terminal sends it), by SIGTERM or by SIGKILL of its own process: the same command then runs
again to its end, every store still loads (the study, the MLflow store, the checkpoints) and no finished trial is
lost."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import REPO, as_from_a_terminal, run_script
from mlflow import MlflowClient
from sweep_helpers import load_study, study_so_far, sweep_runs

pytestmark = [pytest.mark.slow, pytest.mark.reliability]
OWN_LOOP = REPO / "examples" / "own_loop" / "train.py"
MOMENTS = 9  # spread evenly over an uninterrupted sweep's life, by SIGINT, SIGTERM and SIGKILL in turn
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
TRIALS, EPOCHS = 3, 3
ARGS = ["-m", f"hydra.sweeper.n_trials={TRIALS}", "hydra.sweeper.pruner.n_startup_trials=9", f"epochs={EPOCHS}"]


@pytest.fixture(scope="module")
def lifetime(tmp_path_factory: pytest.TempPathFactory) -> float:
    """Seconds the whole sweep takes here, measured once per test process."""
    started = time.monotonic()
    done = run_script(OWN_LOOP, ARGS, tmp_path_factory.mktemp("uninterrupted"), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return time.monotonic() - started


def finished(cwd: Path) -> dict[int, tuple[str, float | None]]:
    """The study's finished trials (state and value), none before the sweep has made its study."""
    study = study_so_far(cwd, "own_loop")
    trials = study.trials if study else []
    return {t.number: (t.state.name, t.value) for t in trials if t.state.name in ("COMPLETE", "PRUNED")}


@pytest.mark.parametrize("moment", range(MOMENTS))
def test_a_sweep_interrupted_at_any_moment_runs_again_to_its_end_with_its_stores_whole(
    moment: int, lifetime: float, tmp_path: Path
):
    stop = SIGNALS[moment % len(SIGNALS)]
    at = lifetime * (moment + 0.5) / MOMENTS
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, str(OWN_LOOP), *ARGS]
    sweep = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        preexec_fn=as_from_a_terminal,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(at)
    if sweep.poll() is None:
        if stop == signal.SIGINT:
            os.killpg(sweep.pid, stop)  # as a terminal's Ctrl-C: to every process of the sweep
        else:
            os.kill(sweep.pid, stop)
    sweep.wait(timeout=120)
    before = finished(tmp_path)

    again = run_script(OWN_LOOP, ARGS, tmp_path, timeout=600)
    how = f"{stop.name} at {at:.1f} s of {lifetime:.1f} s"
    assert again.returncode == 0, f"{how}: {again.stderr[-3000:]}"
    after = finished(tmp_path)
    assert {number: after.get(number) for number in before} == before, how  # no finished trial lost or changed
    study = load_study(tmp_path, "own_loop")
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == TRIALS and "RUNNING" not in {t.state.name for t in study.trials}, how
    _, runs = sweep_runs(tmp_path, "own_loop")
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_of = {run.info.run_id: run for run in runs}
    for trial in complete:
        run = run_of[trial.user_attrs["mlflow_run_id"]]
        assert run.info.status == "FINISHED", how
        steps = [metric.step for metric in client.get_metric_history(run.info.run_id, "val/loss")]
        assert steps == list(range(1, EPOCHS + 1)), how  # each epoch once, across the interruption
    for checkpoint in (tmp_path / "multirun" / "own_loop").glob("*/checkpoints/last.pt"):
        assert torch.load(checkpoint)["epoch"] >= 1, how
