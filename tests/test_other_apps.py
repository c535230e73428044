"""Another Hydra app swept by sweepwise keeps its config as its own: keys that sweepwise's own training reads in a
special way (`task`, `tracking`, `recipe`, `trainer.*`) mean nothing special in another app's config."""

import shutil
from pathlib import Path

import pytest
from helpers import REPO, run_script
from mlflow import MlflowClient
from sweep_helpers import load_study, run_toy, states, sweep_runs

from sweepwise.sweep.driver.definition import OWN_APP_IGNORES, ignored_keys
from sweepwise.sweep.driver.progress import TAIL_LINES, output_tail


def test_only_sweepwise_training_leaves_its_own_keys_out_of_a_studys_identity_by_default() -> None:
    assert ignored_keys(None, own_app=True) == OWN_APP_IGNORES
    assert ignored_keys(None, own_app=False) == ()
    assert ignored_keys(["task"], own_app=False) == ("task",)
    assert ignored_keys([], own_app=True) == ()


@pytest.mark.slow
def test_an_apps_own_task_key_is_part_of_its_studys_identity(tmp_path: Path) -> None:
    easy = run_toy(["hydra.sweeper.n_trials=2", "+task=easy"], tmp_path)
    assert easy.returncode == 0, easy.stderr[-2000:]
    journal = tmp_path / "studies" / "toy.journal"
    written = journal.read_bytes()

    hard = run_toy(["hydra.sweeper.n_trials=4", "+task=hard"], tmp_path)
    assert hard.returncode == 1
    (line,) = [line for line in hard.stderr.splitlines() if line.strip()]
    assert line.startswith("error: hydra.sweeper.study_name='toy': this study was defined otherwise (")
    assert "fixed overrides +task: easy -> hard" in line
    assert journal.read_bytes() == written and states(load_study(tmp_path, "toy")) == {"COMPLETE": 2}

    # the app's config may still say that its task is no new sweep
    ignoring = ["hydra.sweeper.study_name=either", "hydra.sweeper.definition_ignores=[task]"]
    for task, trials in (("easy", 2), ("hard", 4)):
        said = run_toy([*ignoring, f"hydra.sweeper.n_trials={trials}", f"+task={task}"], tmp_path)
        assert said.returncode == 0, said.stderr[-2000:]
    assert states(load_study(tmp_path, "either")) == {"COMPLETE": 4}


@pytest.mark.slow
def test_an_edit_of_the_apps_config_file_is_a_new_definition_of_its_study(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(REPO / "tests" / "apps", app, ignore=shutil.ignore_patterns("__pycache__"))
    first = run_script(app / "toy.py", ["-m", "hydra.sweeper.n_trials=1"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    journal = tmp_path / "studies" / "toy.journal"
    written = journal.read_bytes()
    config = app / "conf" / "toy.yaml"
    config.write_text(config.read_text().replace("short_sleep: 0.0", "short_sleep: 0.01"))

    edited = run_script(app / "toy.py", ["-m", "hydra.sweeper.n_trials=2"], tmp_path)
    assert edited.returncode == 1
    (line,) = [line for line in edited.stderr.splitlines() if line.strip()]
    assert line.startswith("error: hydra.sweeper.study_name='toy': this study was defined otherwise (config ")
    assert "config short_sleep: 0.0 -> 0.01" in line
    assert journal.read_bytes() == written  # trials on another config are not mixed into the study


@pytest.mark.slow
def test_mlflow_tracking_uri_in_the_environment_is_where_the_runs_go_when_no_config_names_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "store" / "elsewhere.db"
    elsewhere.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{elsewhere}")
    done = run_toy(["hydra.sweeper.n_trials=2"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "mlflow.db").exists()
    client = MlflowClient(tracking_uri=f"sqlite:///{elsewhere}")
    runs = client.search_runs([client.get_experiment_by_name("toy").experiment_id])
    assert len(runs) == 3  # the parent run and a run per trial

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "mlruns")
    bad = run_toy(["hydra.sweeper.n_trials=2", "hydra.sweeper.study_name=bad"], tmp_path)
    assert bad.returncode == 1
    (line,) = [line for line in bad.stderr.splitlines() if line.strip()]
    assert line.startswith("error: MLFLOW_TRACKING_URI='mlruns': MLflow's file store is not supported: use a database")
    assert not (tmp_path / "studies" / "bad.journal").exists()

    # a server nothing listens on is one line at once, naming the variable (not minutes of MLflow's retries)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    down = run_toy(["hydra.sweeper.n_trials=2", "hydra.sweeper.study_name=down"], tmp_path, timeout=60)
    assert down.returncode == 1
    (line,) = [line for line in down.stderr.splitlines() if line.strip()]
    assert line.startswith("error: MLFLOW_TRACKING_URI='http://127.0.0.1:9': no MLflow tracking server answers there")
    assert not (tmp_path / "studies" / "down.journal").exists()


STATEFUL = REPO / "tests" / "apps" / "stateful.py"
LOADER = REPO / "tests" / "apps" / "loader.py"
FLUENT = REPO / "tests" / "apps" / "fluent.py"


@pytest.mark.slow
def test_a_task_whose_module_holds_a_lock_runs_and_its_traceback_names_its_own_file_and_line(tmp_path: Path) -> None:
    done = run_script(STATEFUL, ["-m", "hydra.sweeper.n_trials=2"], tmp_path, python_flags=["-W", "error"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert states(load_study(tmp_path, "toy")) == {"COMPLETE": 2}

    args = ["-m", "hydra.sweeper.n_trials=1", "hydra.sweeper.study_name=raises", "behaviour=raise"]
    failed = run_script(STATEFUL, args, tmp_path, python_flags=["-W", "error"])
    assert failed.returncode == 1 and "ValueError: planted failure" in failed.stderr
    log = (tmp_path / "multirun" / "raises" / "0" / "trial.log").read_text()  # each study in a folder of its own
    line = next(n for n, text in enumerate(STATEFUL.read_text().splitlines(), 1) if "planted failure" in text)
    assert f'File "{STATEFUL}", line {line}, in stateful' in log
    assert "<dynamic-code>" not in log
    shown = failed.stdout.splitlines()
    fail_line = next(n for n, text in enumerate(shown) if text.startswith("trial 0 FAIL in "))
    assert shown[fail_line + 1].startswith("  the last lines of trial 0's output (")
    assert "  | ValueError: planted failure" in shown[fail_line + 2 : fail_line + 2 + TAIL_LINES]


@pytest.mark.slow
def test_a_tasks_own_worker_processes_start_as_they_do_outside_a_sweep(tmp_path: Path) -> None:
    """A DataLoader's workers in a trial start with the start method they have when the script runs alone (not
    through the sweep's fork server, which pickles what they run): a lambda `collate_fn` works in both."""
    alone = run_script(LOADER, [], tmp_path, python_flags=["-W", "error"])
    assert alone.returncode == 0, alone.stderr[-2000:]
    (said,) = [line for line in alone.stdout.splitlines() if line.startswith("start method ")]

    swept = run_script(LOADER, ["-m", "hydra.sweeper.n_trials=2"], tmp_path, python_flags=["-W", "error"])
    assert swept.returncode == 0, swept.stderr[-2000:]
    assert states(load_study(tmp_path, "toy")) == {"COMPLETE": 2}
    for number in (0, 1):
        log = (tmp_path / "multirun" / "toy" / str(number) / "trial.log").read_text()
        assert said in log.splitlines(), log[-2000:]


@pytest.mark.slow
def test_a_tasks_own_mlflow_runs_end_with_its_trial_and_the_trials_run_takes_its_fluent_calls(tmp_path: Path) -> None:
    """Runs the task's code starts through MLflow's fluent API end with its trial, as with its process outside a
    sweep: one worker's next trial logs to a run of its own, not the last one's. Inside `mlflow.start_run(run_id=
    trial.run_id)` the fluent calls reach the trial's run."""
    args = ["-m", "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=1"]  # one worker runs the trials in turn
    done = run_script(FLUENT, args, tmp_path, python_flags=["-W", "error"])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    own = [run for run in client.search_runs(experiments) if "my_x" in run.data.params]
    xs = sorted(trial.params["x"] for trial in load_study(tmp_path, "toy").trials)
    assert sorted(float(run.data.params["my_x"]) for run in own) == xs
    assert {run.info.status for run in own} == {"FINISHED"}

    args = ["-m", "hydra.sweeper.n_trials=2", "hydra.sweeper.study_name=into", "behaviour=trial_run"]
    done = run_script(FLUENT, args, tmp_path, python_flags=["-W", "error"])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    _, runs = sweep_runs(tmp_path, "into")
    assert len(runs) == 2 and {run.info.status for run in runs} == {"FINISHED"}
    assert all(run.data.metrics["my/x"] == float(run.data.params["x"]) for run in runs)


@pytest.mark.slow
def test_a_scripts_own_deprecation_warning_shows_in_its_trials_log_as_it_does_when_it_runs_alone(tmp_path: Path):
    """Python shows the DeprecationWarnings of the script it runs (`__main__`); a trial runs the script under
    another name, and shows them too (under `-W error` the trial fails on them, as the script would)."""
    done = run_toy(["hydra.sweeper.n_trials=1", "behaviour=warn"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    log = (tmp_path / "multirun" / "toy" / "0" / "trial.log").read_text()
    assert "DeprecationWarning: a deprecated call in the task" in log, log[-2000:]


def test_a_failed_trials_output_tail_is_its_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "trial.log"
    log.write_text("".join(f"line {n}\n\n" for n in range(30)))
    tail = output_tail(7, log).splitlines()
    assert tail[0] == f"  the last lines of trial 7's output ({log}):"
    assert tail[1:] == [f"  | line {n}" for n in range(30 - TAIL_LINES, 30)]
    log.write_text("")
    assert output_tail(7, log) == "  trial 7 printed nothing"
    assert "wrote no output" in output_tail(7, tmp_path / "missing.log")


@pytest.mark.slow
def test_an_apps_own_tracking_section_is_its_own(tmp_path: Path) -> None:
    """sweepwise reads `tracking` only in its own training's config: an app's section of that name, whatever it
    holds, neither moves the runs nor renames the experiment."""
    own = ["hydra.sweeper.n_trials=2", "+tracking.uri=wandb", "+tracking.experiment=elsewhere"]
    done = run_toy(own, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    parents, children = sweep_runs(tmp_path, "toy")
    assert len(parents) == 1 and len(children) == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "objective",
    ["+objective=val/accuracy", "+objective.name=accuracy", "+objective={metric:val/acc,direction:maximize}"],
)
def test_an_apps_own_objective_section_is_its_own(tmp_path: Path, objective: str) -> None:
    """sweepwise checks `objective` only in its own training's config: an app's key of that name, whatever it
    holds, is neither read as sweepwise's metric nor held against the sweep's direction."""
    done = run_toy(["hydra.sweeper.n_trials=2", objective], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert states(load_study(tmp_path, "toy")) == {"COMPLETE": 2}


GROUP_APP = """
import hydra


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg):
    return (cfg.lr - 0.1) ** 2 + 1.0 / cfg.model.width


if __name__ == "__main__":
    main()
"""


@pytest.mark.slow
@pytest.mark.parametrize("edited", ["big", "small"])
@pytest.mark.parametrize("model", ["model=choice(small, big)", "model=big"])
def test_an_edit_of_a_searched_or_fixed_group_options_file_is_a_new_definition(
    tmp_path: Path, model: str, edited: str
) -> None:
    """The option files of a group the sweep searches or fixes are part of its study's identity, as its config
    file is: edited, the same command stops in one line naming the option's key, before it writes anything."""
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "app.py").write_text(GROUP_APP)
    (tmp_path / "conf" / "config.yaml").write_text(
        "defaults:\n  - model: small\n  - _self_\n  - override hydra/sweeper: optuna\nlr: 0.1\n"
    )
    for name, width in (("small", 8), ("big", 64)):
        (tmp_path / "conf" / "model" / f"{name}.yaml").write_text(f"width: {width}\n")
    args = ["-m", model, "lr=interval(0.01, 0.2)", "hydra.sweeper.n_trials=2"]
    first = run_script(tmp_path / "app.py", args, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    journal = tmp_path / "studies" / "app.journal"
    written = journal.read_bytes()
    (tmp_path / "conf" / "model" / f"{edited}.yaml").write_text("width: 2\n")
    again = run_script(tmp_path / "app.py", [*args[:-1], "hydra.sweeper.n_trials=4"], tmp_path)
    drawn = model == "model=choice(small, big)" or edited == "big"  # the fixed big alone holds no small
    if drawn:
        assert again.returncode == 1
        width = 64 if edited == "big" else 8
        assert f"group options model={edited}: width: {width} -> 2" in again.stderr.strip().splitlines()[-1]
        assert journal.read_bytes() == written
    else:
        assert again.returncode == 0, again.stderr[-2000:]
