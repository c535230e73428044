"""Any other Hydra launcher runs a sweep's trials through its own `launch()`, `n_jobs` at a time: a launcher
written here (the least a launcher can be) and hydra-joblib-launcher, each under `python -W error`. The trials
keep their study, their MLflow runs and the trial API; a batch waits for its slowest trial, as the sweep says."""

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers import REPO, installed_elsewhere, refusal
from sweep_helpers import TOY, load_study, states, sweep_runs

pytestmark = pytest.mark.slow
MINIMAL = "hydra.launcher._target_=hydra_plugins.sweepwise_test_launchers.minimal_launcher.MinimalLauncher"
STEPS = REPO / "tests" / "apps" / "report_steps.py"


def run_with(script: Path, args: Sequence[str], cwd: Path, path: Sequence[Path] = ()) -> subprocess.CompletedProcess:
    pythonpath = os.pathsep.join([str(REPO / "tests" / "plugins"), *map(str, path)])
    env = {**os.environ, "PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-W", "error", str(script), "-m", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_a_launcher_of_the_users_own_runs_the_trials_in_batches_that_wait_for_their_slowest(tmp_path: Path):
    args = ["hydra/launcher=basic", MINIMAL, "hydra.sweeper.n_trials=4", "durations=[0.2, 2]"]
    done = run_with(TOY, args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "launcher basic (trials in batches through its own launch()): study toy" in lines[0]
    assert "and each batch waits for its slowest trial" in lines[1]
    study = load_study(tmp_path, "toy")
    assert states(study) == {"COMPLETE": 4}
    ran = {trial.number: trial.user_attrs["ran"] for trial in study.trials}  # [start, end] of each
    assert ran[2][0] >= ran[1][1] and ran[3][0] >= ran[1][1]  # the second batch began once the first had ended
    _, children = sweep_runs(tmp_path, "toy")
    assert sorted(int(run.data.tags["sweepwise.trial_number"]) for run in children) == [0, 1, 2, 3]
    assert {run.info.status for run in children} == {"FINISHED"}
    assert all((tmp_path / "multirun" / "toy" / str(number) / "trial.log").is_file() for number in range(4))


def test_hydra_joblib_launcher_runs_the_trials_with_the_trial_api(tmp_path: Path):
    joblib_launcher = installed_elsewhere("hydra-joblib-launcher==1.2.0")
    args = [
        "hydra/launcher=joblib",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.direction=minimize",
        "a=interval(0, 1)",
    ]
    done = run_with(STEPS, args, tmp_path, [joblib_launcher])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "launcher joblib (trials in batches through its own launch())" in done.stdout.splitlines()[0]
    study = load_study(tmp_path, "report_steps")
    assert states(study) == {"COMPLETE": 4}
    for trial in study.trials:  # each job reported to its trial from joblib's worker process
        assert trial.intermediate_values == {1: trial.params["a"], 2: trial.params["a"] / 2}
        assert trial.value == pytest.approx(trial.params["a"] / 2)
        folder = tmp_path / "multirun" / "steps" / str(trial.number)
        assert f"folder: {folder / 'checkpoints'}" in (folder / "trial.log").read_text()  # its own, not a shared one


def test_a_launcher_that_is_no_hydra_plugin_is_refused_before_anything_is_written(tmp_path: Path):
    done = run_with(TOY, ["hydra/launcher=basic", "hydra.launcher._target_=collections.OrderedDict"], tmp_path)
    assert refusal(done) == (
        "error: hydra.launcher._target_='collections.OrderedDict': must be a Hydra launcher plugin: a Launcher in "
        "hydra_plugins.*"
    )
    assert not (tmp_path / "studies").exists() and not (tmp_path / "mlflow.db").exists()
