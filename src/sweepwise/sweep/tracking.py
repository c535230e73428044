"""The sweep in MLflow: one parent run per study, one child run per trial, created here before trials start."""

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from sweepwise.tracking.mlflow_run import ensure_experiment
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


class SweepTracker:
    """Creates the experiment (and so the store's schema) once, then the parent and child runs of a study."""

    def __init__(self, uri: str, experiment: str) -> None:
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        self.experiment = experiment
        self.experiment_id = ensure_experiment(self.client, experiment)
        self.parent_run_id = ""

    def start_parent(self, study: optuna.Study, settings: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """Reopen the study's parent run when the sweep is resumed; otherwise create it and log the settings."""
        existing = study.user_attrs.get(PARENT_RUN_ATTR)
        if existing:
            self.parent_run_id = existing
            self.client.update_run(existing, status="RUNNING")
            return existing
        run = self.client.create_run(
            self.experiment_id,
            run_name=study.study_name,
            tags={**tags, MLFLOW_RUN_NAME: study.study_name, "sweepwise.role": "sweep"},
        )
        self.parent_run_id = run.info.run_id
        self.client.log_batch(self.parent_run_id, params=[Param(k, v) for k, v in flatten(settings).items()])
        study.set_user_attr(PARENT_RUN_ATTR, self.parent_run_id)
        return self.parent_run_id

    def start_child(self, study_name: str, trial_number: int, params: Mapping[str, Any]) -> str:
        tags = {
            MLFLOW_PARENT_RUN_ID: self.parent_run_id,
            MLFLOW_RUN_NAME: f"trial-{trial_number}",
            "sweepwise.study": study_name,
            "sweepwise.trial_number": str(trial_number),
            TRIAL_STATE_TAG: "RUNNING",
        }
        run = self.client.create_run(self.experiment_id, run_name=f"trial-{trial_number}", tags=tags)
        # `+w` (an added key) is the param `w` in MLflow, whose names cannot start with `+`
        param_list = [Param(mlflow_key(key), str(value)) for key, value in params.items()]
        self.client.log_batch(run.info.run_id, params=param_list)
        return run.info.run_id

    def end_child(self, run_id: str, state: str, values: Sequence[float] | None, reason: str = "") -> None:
        """Tag the trial's final state (and reason), log its objective, and end the run to match."""
        tags = [RunTag(TRIAL_STATE_TAG, state)]
        if reason:
            tags.append(RunTag("sweepwise.fail_reason" if state == "FAIL" else "sweepwise.prune_reason", reason[:5000]))
        usable = values is not None and all(math.isfinite(v) for v in values)
        metrics = [Metric(k, v, _now(), 0) for k, v in objective_metrics(values if usable else None).items()]
        self.client.log_batch(run_id, metrics=metrics, tags=tags)
        self.client.set_terminated(run_id, status=RUN_STATUS[state])

    def log_child_artifact(self, run_id: str, path: Path) -> None:
        self.client.log_artifact(run_id, str(path))

    def log_parent(self, metrics: Mapping[str, float], tags: Mapping[str, str], step: int) -> None:
        batch = [Metric(key, float(value), _now(), step) for key, value in metrics.items()]
        self.client.log_batch(self.parent_run_id, metrics=batch, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_parent_artifact(self, path: Path, folder: str | None = None) -> None:
        self.client.log_artifact(self.parent_run_id, str(path), artifact_path=folder)

    def log_parent_json(self, data: Any, name: str) -> None:
        self.client.log_text(self.parent_run_id, json.dumps(data, indent=2, default=str), name)

    def end_parent(self, status: str) -> None:
        self.client.set_terminated(self.parent_run_id, status=status)
