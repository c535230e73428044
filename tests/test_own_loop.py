"""examples/own_loop, a plain PyTorch loop on the public trial API, swept as its README says: pruned trials end
PRUNED, and a killed sweep's interrupted trials resume from their own checkpoints in their own runs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, mlflow_client, run_script
from mlflow import MlflowClient
from sweep_helpers import load_study, runs_so_far, states, sweep_runs

pytestmark = pytest.mark.slow
OWN_LOOP = REPO / "examples" / "own_loop" / "train.py"


def epochs_logged(client: MlflowClient, run_id: str) -> list[int]:
    return [metric.step for metric in client.get_metric_history(run_id, "val/loss")]


def test_the_example_sweeps_with_pruning_and_each_trial_logs_its_epochs_once(tmp_path: Path):
    done = run_script(OWN_LOOP, ["-m", "hydra.sweeper.n_trials=6", "epochs=8"], tmp_path, python_flags=["-W", "error"])
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "own_loop")
    assert states(study)["COMPLETE"] >= 2 and states(study)["PRUNED"] >= 1
    _, runs = sweep_runs(tmp_path, "own_loop")
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    by_number = {int(run.data.tags["sweepwise.trial_number"]): run for run in runs}
    for trial in study.trials:
        run = by_number[trial.number]
        logged = epochs_logged(client, run.info.run_id)
        assert logged == sorted(trial.intermediate_values) == list(range(1, len(logged) + 1))
        assert run.data.tags["sweepwise.trial_state"] == trial.state.name
        if trial.state.name == "COMPLETE":
            assert len(logged) == 8 and trial.value == min(trial.intermediate_values.values())
        else:
            assert len(logged) < 8 and run.data.tags["sweepwise.prune_reason"].startswith("pruned at epoch")
            log = (tmp_path / "multirun" / "own_loop" / str(trial.number) / "trial.log").read_text()
            assert "Error executing job" not in log  # pruned, not failed


def test_a_killed_sweeps_trials_resume_from_their_checkpoints_in_their_runs(tmp_path: Path):
    """With Hydra's default sweep folder, named by the time of each run: the re-run continues in the study's."""
    args = ["-m", "hydra.sweeper.n_trials=2", "hydra.sweeper.pruner.n_startup_trials=2", "epochs=30", "samples=16000"]
    args.append("hydra.sweep.dir=multirun/${now:%Y-%m-%d}/${now:%H-%M-%S}")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, str(OWN_LOOP), *args]
    sweep = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.5)
        runs = runs_so_far(tmp_path, "own_loop")
        logged = sorted(len(epochs_logged(mlflow_client(tmp_path), run.info.run_id)) for run in runs)
        if len(logged) == 2 and logged[0] >= 2 and logged[1] >= 4:  # each has saved a checkpoint (see train.py)
            break
    assert sweep.poll() is None, "the sweep ended before its trials had trained 2 and 4 epochs"
    os.killpg(sweep.pid, signal.SIGKILL)  # the sweep and its trials' processes
    sweep.wait()

    time.sleep(1)  # a new second: Hydra's default names another folder for the re-run
    again = run_script(OWN_LOOP, args, tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    study = load_study(tmp_path, "own_loop")
    folder = Path(study.user_attrs["sweep_dir"])
    assert f"continuing in the study's folder {folder}" in again.stdout
    assert [path for path in (tmp_path / "multirun").glob("*/*") if path.is_dir()] == [folder]
    continuing = [t for t in study.trials if "continues" in t.user_attrs]
    assert continuing and states(study)["COMPLETE"] == 2
    _, runs = sweep_runs(tmp_path, "own_loop")
    client = mlflow_client(tmp_path)
    assert len(runs) == 2  # each trial's work in one run, continued
    for run in runs:
        assert epochs_logged(client, run.info.run_id) == list(range(1, 31)) and run.info.status == "FINISHED"
    run_of = {run.info.run_id: run for run in runs}
    for trial in continuing:
        log = (folder / str(trial.user_attrs["continues"]) / "trial.log").read_text()
        assert "resumed from the checkpoint of epoch" in log
        # the pruner judges the whole work: the continuing trial holds what the interrupted one reported, too
        assert sorted(trial.intermediate_values) == list(range(1, 31))
        continued = run_of[trial.user_attrs["mlflow_run_id"]]  # found in MLflow by the continuing trial's number
        assert continued.data.tags["sweepwise.continued_as"] == str(trial.number)
        assert "trial.log" in {artifact.path for artifact in client.list_artifacts(continued.info.run_id)}
    (parent,), _ = sweep_runs(tmp_path, "own_loop")
    assert parent.data.tags["best.run_id"] == study.best_trial.user_attrs["mlflow_run_id"]


def test_pruning_turned_off_on_the_command_line_over_the_examples_own_pruner_settings(tmp_path: Path):
    """The example's config sets its median pruner's fields; `hydra/sweeper/pruner=none` turns pruning off all the
    same, as the README says."""
    args = ["-m", "hydra/sweeper/pruner=none", "hydra.sweeper.n_trials=2", "epochs=2", "samples=200"]
    done = run_script(OWN_LOOP, args, tmp_path, python_flags=["-W", "error"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert states(load_study(tmp_path, "own_loop")) == {"COMPLETE": 2}
