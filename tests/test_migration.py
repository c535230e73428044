"""Coming from hydra-optuna-sweeper: what its users' configs and habits expect, checked from the command line and
the stored study, with every app run under `python -W error` as Hydra's own test harness runs apps."""

import importlib.util
import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import TINY, TRAIN_PY, installed_elsewhere, mlflow_client, refusal, run_script
from optuna.distributions import FloatDistribution, IntDistribution
from sweep_helpers import TOY, load_study, states, sweep_runs

pytestmark = pytest.mark.slow
STRICT = ("-W", "error")  # any warning ends the app, as under Hydra's test harness
GRID = ["hydra/sweeper/sampler=grid", "x=choice(0.1, 0.2, 0.3)"]


def toy(args: list[str], cwd: Path):
    return run_script(TOY, ["-m", *args], cwd, python_flags=STRICT)


@pytest.mark.parametrize(("n_trials", "n_jobs"), [(2, 1), (3, 1), (5, 1), (5, 2)])
def test_a_grid_sweep_ends_normally_whatever_n_trials_is(tmp_path: Path, n_trials: int, n_jobs: int):
    done = toy([*GRID, f"hydra.sweeper.n_trials={n_trials}", f"hydra.sweeper.n_jobs={n_jobs}"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    study = load_study(tmp_path, "toy")
    assert states(study) == {"COMPLETE": min(n_trials, 3)}
    xs = [trial.params["x"] for trial in study.trials]
    assert len(set(xs)) == len(xs)  # no grid point twice, even with trials in parallel
    assert (tmp_path / "multirun" / "toy" / "optimization_results.yaml").is_file()


def test_range_includes_its_stop_as_in_hydra_optuna_sweeper(tmp_path: Path):
    args = ["hydra/sweeper/sampler=grid", "x=range(1, 3)", "hydra.sweeper.n_trials=10"]
    done = toy(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "toy")
    assert sorted(trial.params["x"] for trial in study.trials) == [1, 2, 3]
    assert study.trials[0].distributions["x"] == IntDistribution(1, 3)

    again = toy([*args[:-1], "hydra.sweeper.n_trials=20"], tmp_path)  # every point run: a larger n_trials runs none
    assert again.returncode == 0 and states(load_study(tmp_path, "toy")) == {"COMPLETE": 3}
    assert (
        "study toy is complete: 3 trials finished (3 COMPLETE), every point of its grid of 3; a larger " in again.stdout
    )


def test_a_float_range_keeps_its_stop_and_step(tmp_path: Path):
    done = toy(["x=range(0.5, 5.5, step=1)", "hydra.sweeper.n_trials=4"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "toy")
    assert study.trials[0].distributions["x"] == FloatDistribution(0.5, 5.5, step=1.0)
    assert all((trial.params["x"] - 0.5).is_integer() for trial in study.trials)


@pytest.mark.parametrize("sampler", ["tpe", "gp", "qmc", "cmaes", "nsgaii"])
def test_samplers_run_without_a_warning(tmp_path: Path, sampler: str):
    done = toy([f"hydra/sweeper/sampler={sampler}", "hydra.sweeper.n_trials=3"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Warning" not in done.stderr and "warn" not in done.stdout.lower()
    assert states(load_study(tmp_path, "toy")) == {"COMPLETE": 3}


def test_motpe_says_in_one_line_that_it_was_removed(tmp_path: Path):
    done = toy(["hydra/sweeper/sampler=motpe"], tmp_path)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: hydra.sweeper.sampler._target_="), done.stderr
    # in the words of hydra-optuna-sweeper's current release, which its own test reads
    assert "motpe" in lines[0] and "sampler was removed in Optuna 4.0" in lines[0]
    assert "hydra/sweeper/sampler=tpe" in lines[0] and "handles several objectives" in lines[0]
    assert not (tmp_path / "studies").exists()


def test_an_empty_search_space_repeats_the_base_config(tmp_path: Path):
    done = toy(["hydra.sweeper.params=null", "hydra.sweeper.n_trials=3", "x=0.5"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "every trial runs the same config" in done.stdout
    study = load_study(tmp_path, "toy")
    assert states(study) == {"COMPLETE": 3}
    assert [trial.value for trial in study.trials] == pytest.approx([(0.5 - 0.3) ** 2] * 3)


def test_the_failure_rate_stop_names_the_tasks_exception(tmp_path: Path):
    done = toy(["behaviour=raise", "hydra.sweeper.n_trials=4", "hydra.sweeper.max_failure_rate=0.25"], tmp_path)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: sweep stopped: 2 of 4 trials failed"), done.stderr[-3000:]
    assert "the last: ValueError: planted failure in trial" in lines[-1]
    fail_lines = [line for line in done.stdout.splitlines() if " FAIL in " in line]
    assert fail_lines and all("ValueError: planted failure in trial" in line for line in fail_lines)


def test_a_sweep_with_training_and_preflight_runs_clean_under_warnings_as_errors(tmp_path: Path):
    args = ["sweeps=random_lr_wd", *TINY, "hydra/sweeper/sampler=tpe", "hydra.sweeper.n_trials=2"]
    done = run_script(TRAIN_PY, args, tmp_path, timeout=600, python_flags=STRICT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "preflight" in done.stdout.lower() and "Warning" not in done.stderr
    study = load_study(tmp_path, "random_lr_wd")
    assert states(study) == {"COMPLETE": 2} and type(study.sampler).__name__ == "TPESampler"


def test_the_preflight_alone_runs_clean_under_warnings_as_errors(tmp_path: Path):
    done = run_script(TRAIN_PY, ["mode=preflight", *TINY], tmp_path, timeout=600, python_flags=STRICT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "overfit one batch" in done.stdout and "Warning" not in done.stderr


def test_a_plain_multirun_runs_in_parallel_under_one_parent_run(tmp_path: Path):
    args = ["-m", *TINY, "optimizer.lr=0.001,0.01,0.1"]
    done = run_script(TRAIN_PY, args, tmp_path, timeout=600, python_flags=STRICT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "3 jobs: 3 complete, 0 failed" in done.stdout
    parents, children = sweep_runs(tmp_path, "sweepwise")
    (parent,) = parents
    assert len(children) == 3 and all(run.data.tags["mlflow.parentRunId"] == parent.info.run_id for run in children)
    assert sorted(run.data.params["optimizer.lr"] for run in children) == ["0.001", "0.01", "0.1"]
    assert parent.info.status == "FINISHED" and parent.data.metrics["jobs/complete"] == 3
    best = max(run.data.metrics["best/val/acc"] for run in children)
    assert math.isclose(parent.data.metrics["best/val/acc"], best)
    # the local launcher's two workers ran jobs at the same time
    spans = sorted((run.info.start_time, run.info.end_time) for run in children)
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


def test_a_rerun_never_serves_an_old_study_as_a_new_one(tmp_path: Path):
    first = toy(["hydra.sweeper.n_trials=2"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "INFO" not in first.stderr  # a new store's routine notes are not shown as if they were news
    journal, store = tmp_path / "studies" / "toy.journal", tmp_path / "mlflow.db"
    written = journal.read_bytes()

    # the same command, then one that gives a key the value the config has: the study is complete, nothing runs,
    # nothing is written twice
    for extra in ([], ["short_sleep=0"]):
        same = toy(["hydra.sweeper.n_trials=2", *extra], tmp_path)
        assert same.returncode == 0 and "study toy is complete: 2 trials finished" in same.stdout
        assert "hydra.sweeper.n_trials" in same.stdout and states(load_study(tmp_path, "toy")) == {"COMPLETE": 2}
    assert journal.read_bytes() == written
    (parent,), _ = sweep_runs(tmp_path, "toy")
    client = mlflow_client(tmp_path)
    for metric in ("trials/complete", "best_value"):
        assert len(client.get_metric_history(parent.info.run_id, metric)) == 1  # one point, not one per re-run

    before = journal.read_bytes(), store.read_bytes()
    changed = toy(["hydra.sweeper.n_trials=4", "x=interval(0, 2)", "short_sleep=0.01"], tmp_path)
    assert changed.returncode == 1
    (line,) = [line for line in changed.stderr.splitlines() if line.strip()]
    assert line.startswith("error: hydra.sweeper.study_name='toy': this study was defined otherwise (")
    assert "search space x: " in line and "fixed overrides short_sleep: - -> 0.01" in line
    assert "new hydra.sweeper.study_name" in line and "hydra.sweeper.on_change=continue" in line
    assert (journal.read_bytes(), store.read_bytes()) == before  # nothing written to the study or MLflow

    go_on = toy(
        ["hydra.sweeper.n_trials=4", "x=interval(0, 2)", "long_sleep=0.01", "hydra.sweeper.on_change=continue"],
        tmp_path,
    )
    assert go_on.returncode == 0, go_on.stderr[-3000:]
    study = load_study(tmp_path, "toy")
    assert states(study) == {"COMPLETE": 4} and all(0 <= t.params["x"] <= 2 for t in study.trials[2:])
    # the parent run shows what the continued study changed: the new range, and the fixed value it added
    (parent,), _ = sweep_runs(tmp_path, "toy")
    assert parent.data.tags["settings.search_space.x"] != parent.data.params["search_space.x"]
    assert parent.data.tags["settings.fixed.long_sleep"] == parent.data.params["fixed.long_sleep"] == "0.01"

    # what Optuna fixes for a parameter's life in a study cannot change, even on_change=continue: refused in one
    # line, before anything is written (Optuna would fail the first trial that drew it)
    choices = ["hydra.sweeper.study_name=choices", "hydra.sweeper.n_trials=1"]
    assert toy([*choices, "x=choice(0.1, 0.2)"], tmp_path).returncode == 0
    files = [journal, store, tmp_path / "studies" / "choices.journal"]
    before = [path.read_bytes() for path in files]
    for changed_kind in (
        [*choices, "x=choice(0.1, 0.3)", "hydra.sweeper.on_change=continue"],
        [*choices, "x=choice(0.1, 0.3)"],  # refused so at once, not with advice to continue that would be refused
        ["x=choice(0.5, 1.5)", "hydra.sweeper.on_change=continue"],
        ["x=tag(log, interval(0.1, 2))", "hydra.sweeper.on_change=continue"],
    ):
        refused = toy([*changed_kind, "hydra.sweeper.n_trials=6"], tmp_path)
        assert refused.returncode == 1
        (line,) = [line for line in refused.stderr.splitlines() if line.strip()]
        assert line.startswith("error: x=") and "trials drew x from " in line
        assert "Optuna keeps a parameter's kind, log scale and choices for the life of a study" in line
    assert [path.read_bytes() for path in files] == before


def test_an_app_with_a_trainer_of_its_own_is_swept_as_it_is(tmp_path: Path):
    """Many apps have a `trainer` config of their own (Lightning's `devices`, `max_epochs`): sweepwise reads such
    keys only in its own training's config, so the app's trials run once each, as the app wrote them."""
    own = ["+trainer.devices=2", "+trainer.max_epochs=3", "x=choice(0.1, 0.2)", "hydra.sweeper.n_trials=2"]
    done = toy(own, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert states(load_study(tmp_path, "toy")) == {"COMPLETE": 2}


def test_a_config_naming_hydra_optuna_sweepers_class_runs_on_sweepwises_sweeper(tmp_path: Path):
    """lightning-hydra-template's sweep configs name hydra-optuna-sweeper's class as the sweeper's `_target_`; where
    that plugin is not installed, sweepwise's sweeper runs them, its trials in worker processes that load nothing
    under that plugin's name."""
    assert importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None  # the case under test
    target = "hydra.sweeper._target_=hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    done = toy([target, "hydra.sweeper.n_trials=3"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sweepwise" in done.stdout.splitlines()[0] and ": study toy (" in done.stdout.splitlines()[0]
    study = load_study(tmp_path, "toy")
    assert states(study) == {"COMPLETE": 3}
    assert all(run.info.status == "FINISHED" for run in sweep_runs(tmp_path, "toy")[1])


def test_an_optuna_below_4_stops_the_sweep_in_one_line_naming_the_likely_cause(tmp_path: Path):
    """What an old hydra-optuna-sweeper pin leaves: pip downgrades Optuna to 2.10 for it."""
    old = installed_elsewhere("optuna==2.10.1")
    env = {**os.environ, "PYTHONPATH": str(old)}
    command = [sys.executable, "-W", "error", str(TOY), "-m"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    line = refusal(done)
    assert line.startswith("error: Optuna 2.10.1 is installed: sweepwise needs Optuna 4")
    assert "hydra-optuna-sweeper" in line and "pip install 'optuna>=4'" in line
    assert not (tmp_path / "studies").exists() and not (tmp_path / "mlflow.db").exists()
