"""Two ways around MLflow's own costs, each guarded by `tests/test_mlflow_internals.py`: a new sqlite tracking store
copied from one built before, instead of built afresh (the test builds a store both ways and compares their schema
and rows), and MLflow's PyTorch flavour imported without its Lightning autologging (the test logs and loads a model
through it, and checks that Lightning stayed unimported).

MLflow builds a new sqlite store by creating its tables and running every migration since its first schema: ~1.6 s
of CPU, the largest part of a small sweep's start in a fresh folder (docs/benchmarks.md), paid again by every fresh
folder. The store it builds is the same each time but for one row, its `Default` experiment, whose artifact
location MLflow takes from the working directory. So the first store built on a machine, less that row, is kept in
the user's cache per MLflow version; a new store is a copy of it, and MLflow adds the `Default` experiment itself,
for the folder it is opened in, the first time it opens the store (as it does for any store that lacks it).
"""

import contextlib
import importlib
import os
import shutil
import sqlite3
import sys
import uuid
from pathlib import Path
from types import ModuleType

import mlflow
from mlflow import MlflowClient

DEFAULT_EXPERIMENT_ID = 0  # the experiment MLflow makes in every store it opens without one


def cache_folder() -> Path:
    """Where sweepwise keeps what it builds once per machine: `$XDG_CACHE_HOME/sweepwise`, else ~/.cache/sweepwise."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sweepwise"


def build_empty_store(database: Path) -> None:
    """Build at `database` a sqlite store with MLflow's tables, as MLflow makes them, and its Default experiment."""
    MlflowClient(tracking_uri=f"sqlite:///{database}").search_experiments(max_results=1)


def copy_empty_store(to: Path) -> None:
    """Put at `to` a sqlite store with MLflow's tables, migrated to this MLflow's schema, and no experiment: copied
    from the cache, which is filled on first use; built in place where the cache cannot be written."""
    template = cache_folder() / f"mlflow-{mlflow.__version__}-empty-store.db"
    if not template.exists():
        try:
            _build_template(template)
        except OSError:
            build_empty_store(to)
            return
    shutil.copyfile(template, to)


def _build_template(template: Path) -> None:
    """Build the cached empty store under a name of its own and link it into place whole, so a process stopped
    meanwhile leaves no half-built template; of processes building it at once, the first to finish wins."""
    template.parent.mkdir(parents=True, exist_ok=True)
    building = template.with_name(f".{template.name}.{uuid.uuid4().hex}.building")
    try:
        build_empty_store(building)
        with sqlite3.connect(building) as connection:
            connection.execute("DELETE FROM experiments WHERE experiment_id = ?", (DEFAULT_EXPERIMENT_ID,))
        connection.close()
        with contextlib.suppress(FileExistsError):
            os.link(building, template)
    finally:
        building.unlink(missing_ok=True)


# imported by `mlflow.pytorch` itself, for a callback name only, where Lightning is installed: it imports Lightning,
# torchmetrics and all they load (3-5 s of CPU), which logging a model never uses
LIGHTNING_AUTOLOG = "mlflow.pytorch._lightning_autolog"


def import_pytorch_flavour() -> ModuleType:
    """`mlflow.pytorch`, without the Lightning autologging module its import loads (MLflow skips it, as where
    Lightning is not installed). Left importable afterwards: `mlflow.pytorch.autolog` imports it when called."""
    if "mlflow.pytorch" in sys.modules or LIGHTNING_AUTOLOG in sys.modules:
        return importlib.import_module("mlflow.pytorch")
    sys.modules[LIGHTNING_AUTOLOG] = None  # type: ignore[assignment]  # an import of it raises ImportError
    try:
        return importlib.import_module("mlflow.pytorch")
    finally:
        del sys.modules[LIGHTNING_AUTOLOG]
