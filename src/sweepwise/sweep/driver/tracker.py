"""The sweep in MLflow, as the sweep's own process writes it: one parent run per study, and the end of every
trial's run (see `trial.child_runs`), all through one background writer so the sweep's loop never waits for the
store."""

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from mlflow.entities import LifecycleStage, Metric, Param, Run, RunData, RunTag
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

from sweepwise.study.records import (
    CONTINUED_AS_TAG,
    PARENT_RUN_ATTR,
    PARENT_RUNS_ATTR,
    RECORDED_RUN_TAG,
    ROLE_TAG,
    TRIAL_NUMBER_TAG,
)
from sweepwise.sweep.outcome import TrialOutcome
from sweepwise.sweep.trial.child_runs import close_run, create_child_run
from sweepwise.tracking.background import BackgroundWriter
from sweepwise.tracking.mlflow_run import client_for, ensure_experiment, now_ms
from sweepwise.tracking.params import flatten
from sweepwise.tracking.retry import gave_up
from sweepwise.tracking.trials_view import SHARED_VIEW_TAG, objective_names, trials_view, view_key

SEARCH_LIMIT = 50_000  # the most runs MLflow returns from one search


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
        self.lost_parent: str | None = None  # the study's parent run, when this store does not have it

    def start_parent(self, study: optuna.Study, settings: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """Reopen the study's parent run when the sweep is resumed; otherwise create it and log the settings. A
        study whose parent run this store lacks (the store was deleted, or the sweep logs elsewhere now) goes on
        under the parent it had in this store before, or a new one: the study, not the store, holds the sweep's
        results, and its ended trials get runs there again."""
        self.study_name = study.study_name
        recorded: str | None = study.user_attrs.get(PARENT_RUN_ATTR)
        known: list[str] = study.user_attrs.get(PARENT_RUNS_ATTR) or ([recorded] if recorded else [])
        here = next((run_id for run_id in dict.fromkeys([recorded, *reversed(known)]) if self.stored_run(run_id)), None)
        if here is None:
            self.create_parent(study.study_name, settings, tags)
            study.set_user_attr(PARENT_RUNS_ATTR, [*known, self.parent_run_id])
        else:
            self.reopen_parent(here)
            self._log_settings_again(settings)
        if self.parent_run_id != recorded:
            self.lost_parent = recorded
            study.set_user_attr(PARENT_RUN_ATTR, self.parent_run_id)
        return self.parent_run_id

    def _log_settings_again(self, settings: Mapping[str, Any]) -> None:
        """A resumed parent's settings as this run has them. MLflow keeps a param's first value, so one that
        differs now (a larger `sweeper.n_trials`) is tagged `settings.<param>` with its value; a new one (a fixed
        override a continued study added) is a param and tagged so too, since the trials before it ran without."""
        parent = self.writer.call(self.client.get_run, self.parent_run_id).data
        now, logged = flatten(settings), parent.params
        params = [Param(key, value) for key, value in now.items() if key not in logged]
        tags = [
            RunTag(f"settings.{key}", value)
            for key, value in now.items()
            if logged.get(key) != value or f"settings.{key}" in parent.tags  # new, changed, or changed before
        ]
        if params or tags:
            self.writer.call(self.client.log_batch, self.parent_run_id, params=params, tags=tags)

    def reopen_parent(self, run_id: str) -> str:
        """Continue an existing parent run (a resumed sweep, a multirun's next batch)."""
        self.parent_run_id = run_id
        self.writer.call(self.client.update_run, run_id, status="RUNNING")
        return run_id

    def stored_run(self, run_id: str | None) -> str | None:
        """`run_id` if this store holds that run, not deleted: a run a study recorded is lost with its store."""
        if run_id is None:
            return None
        return run_id if self.writer.call(self._is_stored, run_id) else None

    def _is_stored(self, run_id: str) -> bool:
        try:
            run = self.client.get_run(run_id)
        except MlflowException as error:
            if error.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
                return False
            raise
        return bool(run.info.lifecycle_stage == LifecycleStage.ACTIVE)

    def create_parent(self, name: str, settings: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """A new parent run named `name`, with the settings as params."""
        run = self.writer.call(
            self.client.create_run,
            self.experiment_id,
            run_name=name,
            tags={**tags, MLFLOW_RUN_NAME: name, ROLE_TAG: "sweep"},
        )
        self.parent_run_id = run.info.run_id
        params = [Param(k, v) for k, v in flatten(settings).items()]
        self.writer.call(self.client.log_batch, self.parent_run_id, params=params)
        return self.parent_run_id

    def end_child(
        self,
        number: int,
        run_id: str | None,
        outcome: TrialOutcome,
        params: Mapping[str, Any],
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """End a trial's run to match its outcome (see `close_run`): the sweep is the one that ends trials' runs.
        A trial whose process ended before creating its run gets one here (with `params` and `tags`), so every
        trial has its run."""
        self.writer.submit(self._end_child, number, run_id, outcome, dict(params), dict(tags or {}))

    def _end_child(
        self, number: int, run_id: str | None, outcome: TrialOutcome, params: dict[str, Any], tags: dict[str, str]
    ) -> None:
        close_run(self.client, run_id or self._found_or_created(number, params, tags), outcome)

    def child_run(self, number: int, params: Mapping[str, Any]) -> str | None:
        """The run of trial `number`, created now (with `params`) if its process died before creating it; None
        when the MLflow server is gone, so that a stopping sweep still settles its study: the resumed sweep gives
        the trial its run (`match_children`), and the trial continuing its work finds it there."""
        try:
            run_id: str = self.writer.call(self._found_or_created, number, dict(params))
        except MlflowException as error:
            if not gave_up(error):
                raise
            return None
        return run_id

    def _found_or_created(self, number: int, params: dict[str, Any], tags: dict[str, str] | None = None) -> str:
        return self.find_child(number) or create_child_run(
            self.client, self.experiment_id, self.parent_run_id, self.study_name, number, params, tags
        )

    def match_children(self, ended: Mapping[int, tuple[TrialOutcome, Mapping[str, Any], str | None]]) -> None:
        """Give every trial the study holds as `ended` (number: outcome, params and the run it recorded) an ended
        run to match: a run left RUNNING is ended, and a trial whose run was never created gets one. A trial that
        continued an interrupted one shares its run, found by the run id it recorded; a trial whose recorded run
        this store lacks (the study ran in another store) gets one that names the recorded one."""
        query = f"tags.`mlflow.parentRunId` = '{self.parent_run_id}'"
        runs = self.writer.call(
            self.client.search_runs, [self.experiment_id], filter_string=query, max_results=SEARCH_LIMIT
        )
        by_number = {int(run.data.tags.get(TRIAL_NUMBER_TAG, -1)): run for run in runs}
        by_id = {run.info.run_id: run for run in runs}
        for number, (outcome, params, recorded) in ended.items():
            run = by_number.get(number) or (by_id.get(recorded) if recorded else None)
            if run is None or run.info.status == "RUNNING":
                tags = {RECORDED_RUN_TAG: recorded} if run is None and recorded else None
                self.end_child(number, run.info.run_id if run else None, outcome, params, tags)

    def run_of(self, number: int, recorded: str | None) -> str | None:
        """The run of trial `number`: the one the study `recorded` if the store holds it, else the one MLflow has
        by its tags (see `find_child`), looked up now."""
        found: str | None = self.stored_run(recorded) or self.writer.call(self.find_child, number)
        return found

    def find_child(self, number: int) -> str | None:
        """The run of trial `number`, found by its tags (one its process created but died before recording on the
        trial, or one the sweep created for it)."""
        query = f"tags.`mlflow.parentRunId` = '{self.parent_run_id}' and tags.`{TRIAL_NUMBER_TAG}` = '{number}'"
        runs = self.client.search_runs([self.experiment_id], filter_string=query, max_results=1)
        return runs[0].info.run_id if runs else None

    def mark_continued(self, run_id: str, number: int, began: int) -> None:
        """Name on an interrupted trial's run, in a tag and in the run's name, the trial that continues its work
        there: the study knows that trial by its own number (a best trial, say), the run began as trial `began`."""
        self.writer.submit(self.client.set_tag, run_id, CONTINUED_AS_TAG, str(number))
        self.writer.submit(self.client.set_tag, run_id, MLFLOW_RUN_NAME, f"trial-{began} (continued as {number})")

    def log_child(self, run_id: str, metrics: Mapping[str, float], tags: Mapping[str, str], step: int) -> None:
        self.writer.submit(self.client.log_batch, run_id, **_batch(metrics, tags, step))

    def log_child_artifact(self, run_id: str, path: Path) -> None:
        self.writer.submit(self.client.log_artifact, run_id, str(path))

    def log_parent(self, metrics: Mapping[str, float], tags: Mapping[str, str], step: int) -> None:
        self.writer.call(self.client.log_batch, self.parent_run_id, **_batch(metrics, tags, step))

    def parent_data(self) -> RunData:
        """The parent run's metrics and tags as the store has them now (what an earlier run of the sweep left)."""
        self.writer.flush()
        run: Run = self.writer.call(self.client.get_run, self.parent_run_id)
        return run.data

    def log_parent_changes(self, metrics: Mapping[str, float], tags: Mapping[str, str], step: int) -> None:
        """Log the metrics and tags whose values differ from the parent run's latest ones, so that re-running a
        finished sweep adds no repeated points to its charts."""
        logged = self.parent_data()
        metrics = {key: value for key, value in metrics.items() if logged.metrics.get(key) != value}
        tags = {key: value for key, value in tags.items() if logged.tags.get(key) != value}
        if metrics or tags:
            self.log_parent(metrics, tags, step)

    def log_parent_artifact(self, path: Path, folder: str | None = None) -> None:
        self.writer.call(self.client.log_artifact, self.parent_run_id, str(path), artifact_path=folder)

    def share_trials_view(self, directions: Sequence[str], params: Sequence[str]) -> None:
        """The MLflow UI's view of this sweep's trials, which the sweep's last line links to."""
        objectives = objective_names(len(directions))
        view = trials_view(self.parent_run_id, objectives, directions[0] == "minimize", params)
        tag = SHARED_VIEW_TAG + view_key(self.parent_run_id)
        self.writer.call(self.client.set_experiment_tag, self.experiment_id, tag, view)

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


def _batch(metrics: Mapping[str, float], tags: Mapping[str, str], step: int) -> dict[str, Any]:
    """`log_batch`'s arguments: the metrics at `step`, and the tags."""
    return {
        "metrics": [Metric(key, float(value), now_ms(), step) for key, value in metrics.items()],
        "tags": [RunTag(key, value) for key, value in tags.items()],
    }
