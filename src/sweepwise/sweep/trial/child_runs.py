"""A trial's MLflow run, from start to end: created by the trial's own process (or by the sweep, for a trial whose
process died first) with the trial's params and where it runs, and ended by the sweep alone, to match the trial's
outcome."""

import contextlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME
from optuna.exceptions import UpdateFinishedTrialError

from sweepwise.errors import hide_password
from sweepwise.study.records import (
    FAIL_REASON_TAG,
    PRUNE_REASON_TAG,
    RUN_ID_ATTR,
    STUDY_TAG,
    TRIAL_NUMBER_TAG,
    TRIAL_STATE_TAG,
)
from sweepwise.study.storage import open_storage
from sweepwise.sweep.outcome import TrialOutcome, TrialStatus
from sweepwise.sweep.trial.trial_context import TrialContext
from sweepwise.tracking.mlflow_run import client_for, now_ms
from sweepwise.tracking.params import mlflow_name, param_value
from sweepwise.tracking.secrets import REDACTED, is_secret
from sweepwise.tracking.trials_view import objective_names
from sweepwise.trial_facts import TrialClosed

PLACEMENT_TAGS = {
    "SLURM_JOB_ID": "sweepwise.slurm.job_id",
    "SLURM_ARRAY_TASK_ID": "sweepwise.slurm.array_task_id",
    "SLURMD_NODENAME": "sweepwise.slurm.node",
    "SLURM_RESTART_COUNT": "sweepwise.slurm.restart_count",
    "CUDA_VISIBLE_DEVICES": "sweepwise.cuda_visible_devices",
}
# the MLflow run's status for each way a trial ends: a pruned trial stopped early, which MLflow's UI shows as
# KILLED (not the green check of a trial that trained to its end); a lost server's trial is interrupted: its work
# goes on
RUN_STATUS = {
    TrialStatus.COMPLETE: "FINISHED",
    TrialStatus.PRUNED: "KILLED",
    TrialStatus.FAIL: "FAILED",
    TrialStatus.TRACKING_LOST: "KILLED",
}


def objective_metrics(values: Sequence[float] | None) -> dict[str, float]:
    """`objective` for one objective, `objective/0`, `objective/1`, ... for several."""
    if not values:
        return {}
    return {name: float(value) for name, value in zip(objective_names(len(values)), values, strict=True)}


def open_child_run(context: TrialContext) -> str:
    """The trial's MLflow run, created from the trial's own process (so that runs of parallel trials are created
    in parallel) and recorded on its Optuna trial at once, so the sweep can end it even if this process dies; a
    retried or requeued trial reopens the run of its first attempt. Tagged with where it runs."""
    client = client_for(context.tracking_uri)
    if context.run_id:
        client.update_run(context.run_id, status="RUNNING")
        with contextlib.suppress(MlflowException):  # an interrupted run, continued: its old reason no longer holds
            client.delete_tag(context.run_id, FAIL_REASON_TAG)
        client.log_batch(context.run_id, tags=[RunTag(key, value) for key, value in placement_tags().items()])
        return context.run_id
    run_id = create_child_run(
        client,
        context.experiment_id,
        context.parent_run_id,
        context.study_name,
        context.trial_number,
        context.params,
        placement_tags(),
    )
    try:
        open_storage(context.storage).set_trial_user_attr(context.trial_id, RUN_ID_ATTR, run_id)
    except UpdateFinishedTrialError as closed:  # the sweep found this run by its tags, or made one, as it ended it
        _drop_if_second(client, context, run_id)
        number = context.trial_number
        raise TrialClosed(f"trial {number} was ended by its sweep before this attempt recorded its run") from closed
    return run_id


def _drop_if_second(client: MlflowClient, context: TrialContext, run_id: str) -> None:
    """Delete this attempt's new run if the sweep, ending the trial before the run existed, made the trial one of
    its own: the trial would have two. A run the sweep found by its tags (this one) is the trial's, and kept."""
    query = (
        f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{context.parent_run_id}' "
        f"and tags.`{TRIAL_NUMBER_TAG}` = '{context.trial_number}'"
    )
    runs = client.search_runs([context.experiment_id], filter_string=query)
    if any(run.info.run_id != run_id for run in runs):
        client.delete_run(run_id)


def placement_tags() -> dict[str, str]:
    """Where this process runs: its SLURM job, array index, node and restart count, and its GPUs."""
    return {tag: os.environ[variable] for variable, tag in PLACEMENT_TAGS.items() if variable in os.environ}


def create_child_run(
    client: MlflowClient,
    experiment_id: str,
    parent_run_id: str,
    study: str,
    number: int,
    params: Mapping[str, Any],
    extra_tags: Mapping[str, str] | None = None,
) -> str:
    """A RUNNING child run named `trial-<number>` under the sweep's parent run, with the trial's sweep params
    (values under secret-looking keys redacted)."""
    tags = {
        MLFLOW_PARENT_RUN_ID: parent_run_id,
        MLFLOW_RUN_NAME: f"trial-{number}",
        STUDY_TAG: study,
        TRIAL_NUMBER_TAG: str(number),
        TRIAL_STATE_TAG: "RUNNING",
        **(extra_tags or {}),
    }
    run_id: str = client.create_run(experiment_id, run_name=f"trial-{number}", tags=tags).info.run_id
    param_list = [
        Param(mlflow_name(key), REDACTED if is_secret(key) else hide_password(param_value(key, value)))
        for key, value in params.items()
    ]
    if param_list:
        client.log_batch(run_id, params=param_list)
    return run_id


def close_run(client: MlflowClient, run_id: str, outcome: TrialOutcome) -> None:
    """Log a trial's objective, tag its final state (and reason), and end its run to match (KILLED when it was
    interrupted: its work goes on in the same run, which a later trial ends)."""
    state = outcome.status.study_state.name
    tags = [RunTag(TRIAL_STATE_TAG, state)]
    if outcome.reason:
        reason_tag = PRUNE_REASON_TAG if outcome.status is TrialStatus.PRUNED else FAIL_REASON_TAG
        tags.append(RunTag(reason_tag, outcome.reason[:5000]))
    metrics = [Metric(key, value, now_ms(), 0) for key, value in objective_metrics(outcome.values).items()]
    client.log_batch(run_id, metrics=metrics, tags=tags)
    client.set_terminated(run_id, status="KILLED" if outcome.interrupted else RUN_STATUS[outcome.status])
