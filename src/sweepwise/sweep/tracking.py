"""The sweep in MLflow: one parent run per study, one child run per trial, created here before trials start."""

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from sweepwise.sweep.context import TrialContext
from sweepwise.sweep.storage import open_storage
from sweepwise.sweep.verdict import Verdict
from sweepwise.tracking.background import BackgroundWriter
from sweepwise.tracking.mlflow_run import client_for, ensure_experiment
from sweepwise.tracking.params import flatten
from sweepwise.tracking.secrets import REDACTED, is_secret

PARENT_RUN_ATTR = "mlflow_parent_run_id"
SWEEP_DIR_ATTR = "sweep_dir"  # a study's folder of trial folders (multirun/<study>)
RUN_ID_ATTR = "mlflow_run_id"
TRIAL_STATE_TAG = "sweepwise.trial_state"
PLACEMENT_TAGS = {
    "SLURM_JOB_ID": "sweepwise.slurm.job_id",
    "SLURM_ARRAY_TASK_ID": "sweepwise.slurm.array_task_id",
    "SLURMD_NODENAME": "sweepwise.slurm.node",
    "SLURM_RESTART_COUNT": "sweepwise.slurm.restart_count",
    "CUDA_VISIBLE_DEVICES": "sweepwise.cuda_visible_devices",
}
SEARCH_LIMIT = 50_000  # the most runs MLflow returns from one search
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
    dies; a retried or requeued trial reopens the run of its first attempt. Tagged with where it runs."""
    client = client_for(context.tracking_uri)
    if context.run_id:
        client.update_run(context.run_id, status="RUNNING")
        client.log_batch(context.run_id, tags=[RunTag(key, value) for key, value in placement_tags().items()])
        return context.run_id
    run_id = create_child_run(
        client, context.experiment_id, context.parent_run_id, context.study_name, context.trial_number, placement_tags()
    )
    open_storage(context.storage).set_trial_user_attr(context.trial_id, RUN_ID_ATTR, run_id)
    return run_id


def placement_tags() -> dict[str, str]:
    """Where this process runs: its SLURM job, array index, node and restart count, and its GPUs."""
    return {tag: os.environ[variable] for variable, tag in PLACEMENT_TAGS.items() if variable in os.environ}


def create_child_run(
    client: MlflowClient,
    experiment_id: str,
    parent_run_id: str,
    study: str,
    number: int,
    extra_tags: Mapping[str, str] | None = None,
) -> str:
    """A RUNNING child run named `trial-<number>` under the sweep's parent run."""
    tags = {
        MLFLOW_PARENT_RUN_ID: parent_run_id,
        MLFLOW_RUN_NAME: f"trial-{number}",
        "sweepwise.study": study,
        "sweepwise.trial_number": str(number),
        TRIAL_STATE_TAG: "RUNNING",
        **(extra_tags or {}),
    }
    return client.create_run(experiment_id, run_name=f"trial-{number}", tags=tags).info.run_id


def close_run(client: MlflowClient, run_id: str, verdict: Verdict, params: Mapping[str, Any]) -> None:
    """Log a trial's params and objective, tag its final state (and reason), and end its run to match."""
    tags = [RunTag(TRIAL_STATE_TAG, verdict.state)]
    if verdict.reason:
        reason_tag = "sweepwise.fail_reason" if verdict.state == "FAIL" else "sweepwise.prune_reason"
        tags.append(RunTag(reason_tag, verdict.reason[:5000]))
    metrics = [Metric(key, value, _now(), 0) for key, value in objective_metrics(verdict.values).items()]
    param_list = [Param(mlflow_key(key), REDACTED if is_secret(key) else str(value)) for key, value in params.items()]
    try:
        client.log_batch(run_id, metrics=metrics, params=param_list, tags=tags)
    except MlflowException as error:
        if not param_list or error.error_code != "INVALID_PARAMETER_VALUE":
            raise
        # the task logged these params itself, formatted its own way: keep its values
        client.log_batch(run_id, metrics=metrics, tags=tags)
    client.set_terminated(run_id, status=RUN_STATUS[verdict.state])


class SweepTracker:
    """Creates the experiment (and so the store's schema) once, then the parent and child runs of a study.

    Trials create their own runs (`open_child_run`); what the orchestrator writes about them goes through one
    background writer, so the sweep's loop never waits for the store. `end_parent()` writes everything and raises
    what failed.
    """

    def __init__(self, uri: str, experiment: str) -> None:
        self.client = client_for(uri)
        self.writer = BackgroundWriter()
        self.experiment_id = self.writer.call(ensure_experiment, self.client, experiment)
        self.parent_run_id = ""
        self.study_name = ""

    def start_parent(self, study: optuna.Study, settings: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """Reopen the study's parent run when the sweep is resumed; otherwise create it and log the settings."""
        self.study_name = study.study_name
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
        self, number: int, run_id: str | None, verdict: Verdict, params: Mapping[str, Any] | None = None
    ) -> None:
        """End a trial's run to match its verdict (see `close_run`); a trial whose process ended before creating
        its run gets one here, so every trial has its run."""
        self.writer.submit(self._end_child, number, run_id, verdict, dict(params or {}))

    def _end_child(self, number: int, run_id: str | None, verdict: Verdict, params: dict[str, Any]) -> None:
        if run_id is None:
            run_id = self._find_child(number) or create_child_run(
                self.client, self.experiment_id, self.parent_run_id, self.study_name, number
            )
        close_run(self.client, run_id, verdict, params)

    def match_children(self, ended: Mapping[int, tuple[Verdict, Mapping[str, Any]]]) -> None:
        """Give every trial the study holds as `ended` (number: verdict and params) an ended run to match: a run
        left RUNNING is ended, and a trial whose run was never created gets one."""
        query = f"tags.`mlflow.parentRunId` = '{self.parent_run_id}'"
        runs = self.writer.call(
            self.client.search_runs, [self.experiment_id], filter_string=query, max_results=SEARCH_LIMIT
        )
        by_number = {int(run.data.tags.get("sweepwise.trial_number", -1)): run for run in runs}
        for number, (verdict, params) in ended.items():
            run = by_number.get(number)
            if run is None or run.info.status == "RUNNING":
                self.end_child(number, run.info.run_id if run else None, verdict, params)

    def _find_child(self, number: int) -> str | None:
        """A run the trial's process created but died before recording on the trial."""
        query = f"tags.`mlflow.parentRunId` = '{self.parent_run_id}' and tags.`sweepwise.trial_number` = '{number}'"
        runs = self.client.search_runs([self.experiment_id], filter_string=query, max_results=1)
        return runs[0].info.run_id if runs else None

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
