"""`sweepwise.internals.mlflow_internals` against MLflow's own path: a store made from the cached empty store is,
once opened, what MLflow builds afresh in the same folder (the same tables, indexes, migrations and rows, the
Default experiment's artifact location included), and logs runs the same; the cache is filled once, whole. MLflow's
PyTorch flavour, imported without its Lightning autologging, logs a model that loads and answers as the model did,
and leaves that autologging importable."""

import importlib.util
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mlflow import MlflowClient

from sweepwise.internals.mlflow_internals import build_empty_store, cache_folder
from sweepwise.tracking.mlflow_run import client_for

TIMESTAMPS = ("creation_time", "last_update_time")
CONSTRAINTS = ("CONSTRAINT ", "CHECK ", "FOREIGN KEY", "UNIQUE ", "PRIMARY KEY")


def table_sql(sql: str) -> tuple[list[str], list[str]]:
    """A table's columns in order and its constraints in any order: MLflow's migrations rebuild some sqlite tables
    with their constraints in an order that varies from process to process (set order)."""
    items = [line.strip().rstrip(",").strip() for line in sql.splitlines()]
    return [item for item in items if not item.startswith(CONSTRAINTS)], sorted(
        item for item in items if item.startswith(CONSTRAINTS)
    )


def contents(
    database: Path,
) -> tuple[list[tuple[str, tuple[list[str], list[str]]]], dict[str, list[tuple[object, ...]]]]:
    """A store's schema (every table's and index's SQL) and its rows, timestamps left out."""
    with sqlite3.connect(database) as connection:
        found = connection.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
        schema = sorted((name, table_sql(sql)) for name, sql in found)
        rows = {}
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            kept = [i for i, column in enumerate(cursor.description) if column[0] not in TIMESTAMPS]
            rows[table] = sorted(tuple(row[i] for i in kept) for row in cursor.fetchall())
    connection.close()
    return schema, rows


def test_a_store_from_the_cache_is_the_store_mlflow_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    build_empty_store(tmp_path / "mlflow-built.db")
    client_for(f"sqlite:///{tmp_path / 'first.db'}")  # fills the cache
    assert [path.name for path in cache_folder().iterdir()] == [next(cache_folder().glob("mlflow-*.db")).name]
    client_for(f"sqlite:///{tmp_path / 'copied.db'}")  # from the cache
    built, copied = contents(tmp_path / "mlflow-built.db"), contents(tmp_path / "copied.db")
    assert copied == built
    assert built[1]["experiments"][0][2] == str(tmp_path / "mlruns" / "0")  # the Default experiment, here

    for database in ("mlflow-built.db", "copied.db"):
        client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / database}")
        run = client.create_run(client.create_experiment("sweep"))
        client.log_metric(run.info.run_id, "val/loss", 0.5, step=1)
        client.set_terminated(run.info.run_id)
    assert contents(tmp_path / "copied.db")[1].keys() == contents(tmp_path / "mlflow-built.db")[1].keys()
    copied_runs = [
        run.info.experiment_id for run in MlflowClient(f"sqlite:///{tmp_path / 'copied.db'}").search_runs(["1"])
    ]
    assert copied_runs == ["1"]


def test_an_unwritable_cache_builds_the_store_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.chdir(tmp_path)
    client_for(f"sqlite:///{tmp_path / 'in-place.db'}")
    build_empty_store(tmp_path / "mlflow-built.db")
    assert contents(tmp_path / "in-place.db") == contents(tmp_path / "mlflow-built.db")


FLAVOUR_ROUND_TRIP = """
import sys, tempfile, torch
from sweepwise.tracking.model_export import log_pytorch_model, pytorch_flavour as flavour
assert not {"lightning", "pytorch_lightning"} & set(sys.modules), "Lightning was imported"
from sweepwise.tracking.mlflow_run import client_for, mlflow_store
uri = f"sqlite:///{tempfile.mkdtemp()}/mlflow.db"
client = client_for(uri)
run = client.create_run(client.create_experiment("flavour")).info.run_id
model, example = torch.nn.Linear(3, 2).eval(), torch.randn(4, 3)
logged = log_pytorch_model(uri, run, model, example)
with mlflow_store(uri):
    loaded = flavour.load_model(logged.uri)
assert torch.allclose(loaded(example), model(example)), "the loaded model answers otherwise"
import mlflow.pytorch._lightning_autolog  # still importable: autolog needs it
print("ok")
"""


@pytest.mark.skipif(importlib.util.find_spec("pytorch_lightning") is None, reason="Lightning is not installed")
def test_the_pytorch_flavour_without_lightning_autologging_logs_and_loads_a_model(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(FLAVOUR_ROUND_TRIP)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
