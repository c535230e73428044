"""The sweep in MLflow: one parent run per study, one child run per trial, created here before trials start."""

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from sweepwise.sweep.context import TrialContext
from sweepwise.sweep.storage import open_storage
from sweepwise.tracking.background import BackgroundWriter
from sweepwise.tracking.mlflow_run import client_for, ensure_experiment
from sweepwise.tracking.params import flatten

PARENT_RUN_ATTR = "mlflow_parent_run_id"
RUN_ID_ATTR = "mlflow_run_id"
TRIAL_STATE_TAG = "sweepwise.trial_state"
RUN_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "FINISHED", "FAIL": "FAILED"}


def mlflow_key(override_key: str) -> str:
    """An override key as an MLflow name: `+w` (a key added to the config) is `w`; MLflow names cannot hold `+`."""
    return override_key.lstrip("+~")


def _now() -> int:
    return int(time.time() * 1000)


def objective_metrics(values: Sequence[float] | None) -> dict[str, float]:
    """`objective` for one objective, `objective/0`, `objective/1`, ... for several."""
    if not values:
        return {}
    if len(values) == 1:
        return {"objective": float(values[0])}
    return {f"objective/{index}": float(value) for index, value in enumerate(values)}


def open_child_run(context: TrialContext) -> str:
    """The trial's MLflow run, created from the trial's own process (so that runs of parallel trials are created
    in parallel) and recorded on its Optuna trial at once, so the orchestrator can end it even if this process
    dies; a retried trial reopens the run of its first attempt."""
    client = client_for(context.tracking_uri)
    if context.run_id:
        client.update_run(context.run_id, status="RUNNING")
        return context.run_id
    name = f"trial-{context.trial_number}"
    tags = {
        MLFLOW_PARENT_RUN_ID: context.parent_run_id,
        MLFLOW_RUN_NAME: name,
        "sweepwise.study": context.study_name,
        "sweepwise.trial_number": str(context.trial_number),
        TRIAL_STATE_TAG: "RUNNING",
    }
    run_id = client.create_run(context.experiment_id, run_name=name, tags=tags).info.run_id
    open_storage(context.storage).set_trial_user_attr(context.trial_id, RUN_ID_ATTR, run_id)
    return run_id


class SweepTracker:
    """Creates the experiment (and so the store's schema) once, then the parent and child runs of a study.

    Trials create their own runs (`open_child_run`); what the orchestrator writes about them goes through one
    background writer, so the sweep's loop never waits for the store. `flush()` writes everything and raises
    what failed.
    """

    def __init__(self, uri: str, experiment: str) -> None:
        self.uri = uri
        self.client = client_for(uri)
        self.writer = BackgroundWriter()
        self.experiment = experiment
        self.experiment_id = self.writer.call(ensure_experiment, self.client, experiment)
        self.parent_run_id = ""

    def start_parent(self, study: optuna.Study, settings: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """Reopen the study's parent run when the sweep is resumed; otherwise create it and log the settings."""
        existing = study.user_attrs.get(PARENT_RUN_ATTR)
        if existing:
            self.parent_run_id = existing
            self.writer.call(self.client.update_run, existing, status="RUNNING")
            return existing
        run = self.writer.call(
            self.client.create_run,
            self.experiment_id,
            run_name=study.study_name,
            tags={**tags, MLFLOW_RUN_NAME: study.study_name, "sweepwise.role": "sweep"},
        )
        self.parent_run_id = run.info.run_id
        params = [Param(k, v) for k, v in flatten(settings).items()]
        self.writer.call(self.client.log_batch, self.parent_run_id, params=params)
        study.set_user_attr(PARENT_RUN_ATTR, self.parent_run_id)
        return self.parent_run_id

    def end_child(
        self,
        run_id: str,
        state: str,
        values: Sequence[float] | None,
        reason: str = "",
        params: Mapping[str, Any] | None = None,
    ) -> None:
        """Log the trial's params and objective, tag its final state (and reason), and end the run to match."""
        tags = [RunTag(TRIAL_STATE_TAG, state)]
        if reason:
            tags.append(RunTag("sweepwise.fail_reason" if state == "FAIL" else "sweepwise.prune_reason", reason[:5000]))
        usable = values is not None and all(math.isfinite(v) for v in values)
        metrics = [Metric(k, v, _now(), 0) for k, v in objective_metrics(values if usable else None).items()]
        param_list = [Param(mlflow_key(key), str(value)) for key, value in (params or {}).items()]
        self.writer.submit(self._end_child, run_id, metrics, param_list, tags, RUN_STATUS[state])

    def _end_child(
        self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag], status: str
    ) -> None:
        try:
            self.client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        except MlflowException as error:
            if not params or error.error_code != "INVALID_PARAMETER_VALUE":
                raise
            # the task logged these params itself, formatted its own way: keep its values
            self.client.log_batch(run_id, metrics=metrics, tags=tags)
        self.client.set_terminated(run_id, status=status)

    def log_child_artifact(self, run_id: str, path: Path) -> None:
        self.writer.submit(self.client.log_artifact, run_id, str(path))

    def log_parent(self, metrics: Mapping[str, float], tags: Mapping[str, str], step: int) -> None:
        batch = [Metric(key, float(value), _now(), step) for key, value in metrics.items()]
        tag_list = [RunTag(k, v) for k, v in tags.items()]
        self.writer.call(self.client.log_batch, self.parent_run_id, metrics=batch, tags=tag_list)

    def log_parent_artifact(self, path: Path, folder: str | None = None) -> None:
        self.writer.call(self.client.log_artifact, self.parent_run_id, str(path), artifact_path=folder)

    def log_parent_json(self, data: Any, name: str) -> None:
        text = json.dumps(data, indent=2, default=str)
        self.writer.call(self.client.log_text, self.parent_run_id, text, name)

    def check(self) -> None:
        """Raise the first failed MLflow write so far."""
        self.writer.check()

    def end_parent(self, status: str) -> None:
        """Write everything still queued, then end the parent run."""
        try:
            self.writer.flush()
        finally:
            self.writer.call(self.client.set_terminated, self.parent_run_id, status=status)
            self.writer.close()
