"""Every key Hydra accepts in a search space or a config becomes an MLflow name MLflow accepts."""

from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Param
from sweep_helpers import load_study, run_toy, sweep_runs

from sweepwise.tracking.params import flatten, mlflow_name

KEYS = ["w", "+w", "++model.hidden", "~model.width", "db@backup", "a//b", "a/./b", "x[0]", "lr (log)", "c:d", "é"]


@pytest.mark.parametrize(
    ("key", "name"),
    [("+w", "w"), ("++model.hidden", "model.hidden"), ("~model.width", "model.width"), ("db@backup", "db_backup")],
)
def test_an_override_key_loses_its_marks_and_the_characters_mlflow_refuses(key: str, name: str) -> None:
    assert mlflow_name(key) == name


def test_every_name_made_is_accepted_by_a_real_mlflow_store(tmp_path: Path) -> None:
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.create_run(client.create_experiment("names"))
    names = {mlflow_name(key) for key in KEYS}
    client.log_batch(run.info.run_id, params=[Param(name, "1") for name in sorted(names)])
    client.set_tag(run.info.run_id, mlflow_name("best.db@backup"), "1")
    assert set(client.get_run(run.info.run_id).data.params) == names


def test_a_config_key_mlflow_would_refuse_is_logged_under_a_name_it_accepts() -> None:
    assert flatten({"model": {"db@backup": 1, "width": 2}}) == {"model.db_backup": "1", "model.width": "2"}


@pytest.mark.slow
def test_a_sweep_over_keys_added_with_plus_or_deleted_runs_and_logs_them(tmp_path: Path) -> None:
    args = ["hydra.sweeper.n_trials=3", "+w=interval(0, 1)", "+model.hidden=choice(16, 32, 64)", "~long_sleep"]
    done = run_toy(args, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    study = load_study(tmp_path, "toy")
    assert [trial.state.name for trial in study.trials] == ["COMPLETE"] * 3
    assert all({"+w", "+model.hidden"} <= trial.params.keys() for trial in study.trials)
    parents, children = sweep_runs(tmp_path, "toy")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert {"search_space.w", "search_space.model.hidden"} <= parents[0].data.params.keys()
    assert parents[0].data.params["fixed.long_sleep"] == "(deleted)"  # not None, which long_sleep=null sets
    # the sweeper's settings as the sweep ran them, its defaults resolved
    storage = str(tmp_path / "studies" / "toy.journal")
    assert parents[0].data.params["sweeper.storage"] == storage and parents[0].data.params["sweeper.n_jobs"] == "2"
    assert len(children) == 3 and all(run.info.status == "FINISHED" for run in children)
    for run in children:
        trial = study.trials[int(run.data.tags["sweepwise.trial_number"])]
        assert run.data.params["w"] == str(trial.params["+w"])
        assert run.data.params["model.hidden"] == str(trial.params["+model.hidden"])
        assert run.data.params["long_sleep"] == "(deleted)"
