"""PostgreSQL for studies and MLflow runs (`make db-up`): plain `postgresql://` URLs work through the shipped
driver, a sweep on it ends with its trials in both stores, and what cannot work (a wrong password, a database that
does not exist, a server that is down) is one line naming the key, with nothing written."""

import psycopg
import pytest
from helpers import run_train
from mlflow import MlflowClient
from postgres_server import Databases
from reliability import record

from sweepwise.databases import with_driver
from sweepwise.study.storage import open_storage

pytestmark = pytest.mark.slow
SWEEP = ["-m", "sweeps=random_lr_wd", "model=linear", "trainer.epochs=1", "trainer.progress=plain"]


def count(url: str, query: str, table: str) -> int:
    """The count `query` gives, 0 when its table does not exist (the store's schema was never created)."""
    with psycopg.connect(url) as connection:
        exists = connection.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{table}",)).fetchone()[0]
        return connection.execute(query).fetchone()[0] if exists else 0


def test_a_sweep_on_postgresql_keeps_its_study_and_runs_there_and_hides_the_password(postgres: Databases, tmp_path):
    stores = [f"hydra.sweeper.storage={postgres.studies}", f"tracking.uri={postgres.mlflow}"]
    done = run_train([*SWEEP, *stores, "hydra.sweeper.n_trials=2", "recipe.preflight=off"], tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    import optuna

    study = optuna.load_study(study_name="random_lr_wd", storage=open_storage(postgres.studies))
    assert [trial.state.name for trial in study.trials] == ["COMPLETE"] * 2
    client = MlflowClient(with_driver(postgres.mlflow))
    runs = client.search_runs([client.get_experiment_by_name("sweepwise").experiment_id])
    assert len(runs) == 3  # the parent and one run per trial
    password = postgres.server.split(":")[2].split("@")[0]
    assert password not in done.stdout + done.stderr
    assert all(password not in str(run.data.params) + str(run.data.tags) for run in runs)
    assert all(password not in str(trial.user_attrs) + str(trial.system_attrs) for trial in study.trials)
    assert password not in str(study.user_attrs)
    assert not (tmp_path / "studies").exists() and not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize("key", ["hydra.sweeper.storage", "tracking.uri"])
@pytest.mark.parametrize("fault", ["wrong password", "unknown database", "server down"])
def test_a_postgresql_url_that_cannot_work_is_one_line_and_writes_nothing(
    key: str, fault: str, postgres: Databases, tmp_path
):
    user_and_host = postgres.server.split("://")[1]
    user, host = user_and_host.split(":")[0], user_and_host.split("@")[1]
    bad = {
        "wrong password": f"postgresql://{user}:not-the-password@{host}/{postgres.studies_name}",
        "unknown database": f"{postgres.server}/no_such_database",
        "server down": f"postgresql://{user}:secret@127.0.0.1:1/{postgres.studies_name}",
    }[fault]
    good = {"hydra.sweeper.storage": postgres.studies, "tracking.uri": postgres.mlflow}
    stores = {**good, key: bad}
    args = [*SWEEP, *(f"{k}={v}" for k, v in stores.items()), "tracking.retry.max_retries=0"]
    done = run_train(args, tmp_path, timeout=300)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and key in lines[0], done.stderr[-2000:]
    assert "not-the-password" not in lines[0] and "secret" not in lines[0]
    assert count(postgres.studies, "SELECT count(*) FROM studies", "studies") == 0
    assert count(postgres.mlflow, "SELECT count(*) FROM runs", "runs") == 0
    assert count(postgres.mlflow, "SELECT count(*) FROM experiments WHERE name = 'sweepwise'", "experiments") == 0
    assert not (tmp_path / "studies").exists() and not (tmp_path / "mlflow.db").exists()
    record(
        "bad input",
        f"PostgreSQL: {fault} in `{key}` (in a sweep)",
        f"exit {done.returncode}: `{lines[0]}`",
        "nothing: no table in either database",
    )
