"""One MLflow run, written through MlflowClient so it works the same in any process (trials, SLURM jobs)."""

import contextlib
import functools
import logging
import os
import secrets
import tempfile
import time
import traceback
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from sweepwise.databases import with_driver
from sweepwise.errors import ConfigError
from sweepwise.folders import unwritable
from sweepwise.internals.mlflow_internals import build_empty_store, copy_empty_store

MAX_TAG_LENGTH = 5000
# stores MLflow's client supports, but for the file store, which MLflow has retired
TRACKING_SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks")
# where MLflow's own tools read the store from when nothing else names it
TRACKING_URI_VARIABLE = "MLFLOW_TRACKING_URI"
MAX_METRICS_PER_CALL = 1000  # MLflow's limit for one log_batch
STEP_LOSS, STEP_LR = "step/train_loss", "step/lr"
# MLflow 3's UI picks an experiment's default view from this tag: runs for model training, traces for GenAI
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = {EXPERIMENT_KIND_TAG: "custom_model_development"}


def now_ms() -> int:
    """Now, as MLflow timestamps its metrics: milliseconds since the epoch."""
    return int(time.time() * 1000)


def _quiet_schema_notes() -> None:
    """MLflow logs at INFO, to stderr, each time it creates or checks a new store's tables ("Creating initial MLflow
    database tables..."): routine on a first run, and read as a problem there. Its warnings and errors still show."""
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)


def import_database_store() -> None:
    """MLflow's database store sets up its SQLAlchemy mappers when imported, with a loader strategy (`noload`) that
    SQLAlchemy 2.1 deprecates: nothing for us to act on, and under `python -W error` (as Hydra's test harness runs
    apps) it would end every run. Imported once here, with that one warning silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The ``noload`` loader strategy", category=DeprecationWarning)
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401


@functools.cache
def client_for(uri: str) -> MlflowClient:
    """One client per store and process: building one sets up the store (for sqlite, an engine and a schema
    check), which costs more than the write it is built for."""
    if not uri.startswith(("http:", "https:", "databricks")):
        import_database_store()
        _quiet_schema_notes()
    if uri.startswith("sqlite:///"):
        _create_whole(Path(uri.removeprefix("sqlite:///")))
    return MlflowClient(tracking_uri=uri)


def _create_whole(database: Path) -> None:
    """A new sqlite store is built under a name of its own and linked into place once every table exists and is
    migrated. A process stopped meanwhile (Ctrl-C in a sweep's first seconds) leaves no half-built store for every
    later run to fail on (`table ... already exists`); of processes creating it at once, the first to finish wins
    and the others use its store. The tables come from a cached empty store (`copy_empty_store`); opening the copy
    here adds MLflow's Default experiment, located in this folder."""
    if database.exists() or not database.parent.is_dir():
        return  # an existing store; or a folder MLflow will name in its own error
    building = database.with_name(f".{database.name}.{uuid.uuid4().hex}.building")
    try:
        copy_empty_store(building)
        build_empty_store(building)  # opens the copy: MLflow adds its Default experiment
        with contextlib.suppress(FileExistsError):
            os.link(building, database)
    finally:
        building.unlink(missing_ok=True)


def resolve_tracking_uri(uri: str | None) -> str:
    """The store to log to: the config's `tracking.uri`; unset, `MLFLOW_TRACKING_URI` from the environment, as
    MLflow's own tools read it; else `sqlite:///<cwd>/mlflow.db`."""
    if uri:
        return _checked_uri("tracking.uri", uri)
    from_environment = os.environ.get(TRACKING_URI_VARIABLE)
    if from_environment:
        return _checked_uri(TRACKING_URI_VARIABLE, from_environment)
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def _checked_uri(key: str, uri: str) -> str:
    """A database or server store's URI (a new sqlite store's in a folder this user can make it in). MLflow's file
    store (`file:`, a folder such as ./mlruns) is refused: MLflow 3 deprecates it, and its search of thousands of
    trials' runs reads every run's files."""
    scheme = uri.split("://")[0].split("+")[0] if "://" in uri else ""
    if scheme not in TRACKING_SCHEMES:
        file_store = scheme == "file" or uri.startswith("file:") or "://" not in uri
        kind = "MLflow's file store is not supported" if file_store else "not an MLflow tracking store URI"
        raise ConfigError(
            key,
            uri,
            f"{kind}: use a database or a tracking server ({', '.join(TRACKING_SCHEMES)}; e.g. sqlite:///mlflow.db, "
            "the default, or http://127.0.0.1:5000)",
        )
    problem = unwritable(Path(uri.removeprefix("sqlite:///"))) if uri.startswith("sqlite:///") else None
    if problem:
        raise ConfigError(key, uri, problem)
    return with_driver(uri)


def end_fluent_runs() -> None:
    """End the runs a task started through MLflow's fluent API (`mlflow.start_run`, or `mlflow.log_*` without one)
    and left active, as its process's exit would (FINISHED): a worker runs trial after trial, and the next one's
    `mlflow.log_*` would otherwise go to this one's run, which would stay RUNNING."""
    with contextlib.suppress(MlflowException):  # a store gone since: the runs stay as they are, as on a crash
        while mlflow.active_run() is not None:
            mlflow.end_run()


@contextlib.contextmanager
def mlflow_store(uri: str) -> Iterator[None]:
    """MLflow's process-wide store set to `uri` for what reads only that (a flavour's model logging and loading),
    then put back as it was. MLflow writes it to MLFLOW_TRACKING_URI too, for subprocesses: left set, every process
    started afterwards would log to this store."""
    before = os.environ.get(TRACKING_URI_VARIABLE)
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)  # type: ignore[arg-type]  # None unsets both, as MLflow's own code does


def _artifact_location(uri: str) -> str | None:
    """Keep a sqlite store's artifacts beside its database file, wherever the process runs."""
    if uri.startswith("sqlite:///"):
        return str(Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlruns")
    return None


def ensure_experiment(client: MlflowClient, name: str) -> str:
    """The id of experiment `name`, created (with the store's schema) if missing; safe against a racing creator.
    It is marked a model-training experiment, so that MLflow 3's UI opens it on its runs, not in its GenAI view."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(
                name, artifact_location=_artifact_location(client.tracking_uri), tags=EXPERIMENT_KIND
            )
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            experiment = client.get_experiment_by_name(name)
            assert experiment is not None  # a racing creator made it
    if experiment.lifecycle_stage == "deleted":
        raise ConfigError("tracking.experiment", name, "is deleted in MLflow; restore it or pick another name")
    if EXPERIMENT_KIND_TAG not in experiment.tags:  # made before experiments were marked, or by someone else
        client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND[EXPERIMENT_KIND_TAG])
    return experiment.experiment_id


class MlflowRun:
    """A started run: params, one batched metrics call per epoch (with the epoch's per-step loss and learning
    rate when `every` > 0), tags, artifacts, and its end state."""

    def __init__(self, client: MlflowClient, run_id: str, resumed: bool = False, every: int = 0) -> None:
        self.client, self.run_id, self.every = client, run_id, every
        self._resumed = resumed
        # in a reopened run: the last epoch whose metrics it has (read when the first epoch comes in)
        self._logged_through: int | None = None
        self._steps: list[tuple[int, Any, float]] = []  # (step, loss tensor, lr) of the epoch in progress

    @classmethod
    def start(
        cls,
        uri: str,
        experiment: str,
        run_name: str | None,
        tags: Mapping[str, str],
        parent_run_id: str | None = None,
        resume_run_id: str | None = None,
        every: int = 0,
        start_time: int | None = None,
    ) -> "MlflowRun":
        """Create a run (a child when `parent_run_id` is given) or reopen `resume_run_id` (a sweep trial's run,
        or a run continued after a restart), with `tags` either way; `every` > 0 logs per-step metrics.
        `start_time` (ms) dates a run created after its work (a preflight, a data report) from when that began."""
        client = client_for(uri)
        if resume_run_id is not None:
            client.update_run(resume_run_id, status="RUNNING")
            run = cls(client, resume_run_id, resumed=True, every=every)
            run.set_tags(tags)
            return run
        all_tags = dict(tags)
        if parent_run_id:
            all_tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
        # MLflow would draw a name from Python's `random`, which code that seeds it makes the same for every run
        run_name = run_name or f"run-{secrets.token_hex(3)}"
        all_tags[MLFLOW_RUN_NAME] = run_name
        experiment_id = ensure_experiment(client, experiment)
        created = client.create_run(experiment_id, start_time=start_time, run_name=run_name, tags=all_tags)
        return cls(client, created.info.run_id, every=every)

    def log_params(self, params: Mapping[str, str]) -> None:
        """Log params (logging a param again with the same value, as a retried trial does, is accepted)."""
        self.client.log_batch(self.run_id, params=[Param(key, value) for key, value in params.items()])

    def set_tags(self, tags: Mapping[str, object]) -> None:
        tag_list = [RunTag(key, str(value)[:MAX_TAG_LENGTH]) for key, value in tags.items()]
        self.client.log_batch(self.run_id, tags=tag_list)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """All of one step's metrics in a single call."""
        self.log_steps([(step, metrics)])

    def log_steps(self, points: Iterable[tuple[int, Mapping[str, float]]]) -> None:
        """Many steps' metrics in as few calls as MLflow allows (each call is one write to the store)."""
        now = now_ms()
        self._log_batched(
            [Metric(key, float(value), now, step) for step, metrics in points for key, value in metrics.items()]
        )

    def _log_batched(self, batch: list[Metric]) -> None:
        for start in range(0, len(batch), MAX_METRICS_PER_CALL):
            self.client.log_batch(self.run_id, metrics=batch[start : start + MAX_METRICS_PER_CALL])

    def pending(self) -> list[tuple[int, float, float]]:
        """The epoch's recorded steps as plain numbers (read at the epoch's end, like the epoch's metrics)."""
        return [(step, float(loss), lr) for step, loss, lr in self._steps]

    def restore(self, pending: list[tuple[int, float, float]]) -> None:
        self._steps = list(pending)

    def record_step(self, step: int, loss: Any, lr: float) -> None:
        """Keep one optimiser step's loss (a tensor: read at the epoch's end, so training never waits on it)."""
        self._steps.append((step, loss, lr))

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Epoch callback of the training loop: the epoch number is the step; the epoch's recorded optimiser
        steps go with it. A reopened run skips the epochs it already has (an epoch's metrics come last, in one
        commit, so one metric's history tells)."""
        steps, self._steps = self._steps, []
        if self._resumed and self._logged_through is None:
            history = self.client.get_metric_history(self.run_id, next(iter(metrics)))
            self._logged_through = max((metric.step for metric in history), default=-1)  # none: step 0 too
        if self._logged_through is not None and epoch <= self._logged_through:
            return
        now = now_ms()
        batch = [
            metric
            for step, loss, lr in steps
            for metric in (Metric(STEP_LOSS, float(loss), now, step), Metric(STEP_LR, lr, now, step))
        ]
        batch += [Metric(key, float(value), now, epoch) for key, value in metrics.items()]
        self._log_batched(batch)

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path=folder)

    def finish(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status=status)

    def fail(self, error: BaseException, end: bool = True) -> None:
        """Record the error as a tag and a traceback artifact (`error.txt`), then (with `end`) end the run FAILED
        (KILLED on Ctrl-C)."""
        self.set_tags({"sweepwise.error": f"{type(error).__name__}: {error}"})
        with tempfile.TemporaryDirectory() as folder:
            trace = Path(folder) / "error.txt"
            trace.write_text("".join(traceback.format_exception(error)))
            self.log_artifact(trace)
        if end:
            self.finish("KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
