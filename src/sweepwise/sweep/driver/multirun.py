"""sweepwise's launchers for plain multiruns (`-m a=1,2,3`): the jobs run in parallel worker processes (`local`),
each as its own SLURM job (`slurm`, `submitit_slurm`) or submitit local job (`submitit_local`), and each freed
slot starts the next job at once.

A multirun of sweepwise's training is grouped as a sweep is: one MLflow parent run (kept across the batches Hydra's
basic sweeper may launch), each job's run under it, and a table of the jobs at the end. Each `JobReturn` carries
what Hydra's launcher contract promises: the job's config, Hydra config, working directory and task name.
"""

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from sweepwise.configure import is_sweepwise_training
from sweepwise.errors import SweepwiseError, hide_password
from sweepwise.sweep.driver.progress import JobRow, jobs_table
from sweepwise.sweep.driver.tracker import SweepTracker
from sweepwise.sweep.launch.early_start import worker_preload
from sweepwise.sweep.launch.executor import Executor
from sweepwise.sweep.launch.executor_choice import launcher_settings, make_executor, placement, trial_processes
from sweepwise.sweep.launch.gpu_placement import LocalSettings
from sweepwise.sweep.launch.hydra_launcher_executor import OtherLauncher
from sweepwise.sweep.launch.slurm_requests import trials_per_job
from sweepwise.sweep.launch.submitit_local_executor import SubmititLocalSettings
from sweepwise.sweep.outcome import Died, TrialOutcome, TrialStatus
from sweepwise.sweep.trial.trial_runner import TrialJob, TrialRunner
from sweepwise.tracking.mlflow_run import resolve_tracking_uri
from sweepwise.tracking.provenance import provenance_tags

log = logging.getLogger(__name__)


class JobFailed(RuntimeError):
    """A job of a plain multirun failed; the message carries the job's own error."""


@dataclass(frozen=True)
class Grouping:
    """Where a multirun of sweepwise's training is grouped: its MLflow store, experiment and objective."""

    tracking_uri: str
    experiment: str
    metric: str
    direction: str

    @classmethod
    def of(cls, config: DictConfig) -> "Grouping | None":
        """For a config of sweepwise's training; None for any other task."""
        if not is_sweepwise_training(config):
            return None
        return cls(
            tracking_uri=resolve_tracking_uri(OmegaConf.select(config, "tracking.uri", default=None)),
            experiment=str(OmegaConf.select(config, "tracking.experiment", default=None) or config.hydra.job.name),
            metric=str(OmegaConf.select(config, "objective.metric", default="objective")),
            direction=str(OmegaConf.select(config, "objective.direction", default="maximize")),
        )


class MultirunLauncher:
    """Runs a plain multirun's jobs on the executor the `hydra.launcher` config names."""

    def __init__(self) -> None:
        self.parent_run_id: str | None = None  # the multirun's parent run, once its first batch has made it

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Run every job, at most `n_workers` (local), `array_parallelism` (slurm) or as many as the GPUs hold
        (submitit local) at once, and return their results in submission order."""
        launcher = cast(dict[str, Any], OmegaConf.to_container(self.config.hydra.launcher, resolve=True))
        try:
            settings = launcher_settings(launcher, trial_processes(self.config))
            assert not isinstance(settings, OtherLauncher)  # Hydra runs this launcher: it is one of sweepwise's
            grouping = Grouping.of(self.config)
            if isinstance(settings, LocalSettings):
                slots = placement(settings, "hydra.launcher.n_workers", settings.n_workers)
            elif isinstance(settings, SubmititLocalSettings):  # as many at once as the GPUs hold, or 2 on CPUs
                slots = placement(settings, "hydra.launcher.gpus_per_node", None)
            else:
                slots = placement(settings, "hydra.launcher.array_parallelism", settings.array_parallelism)
        except SweepwiseError as error:
            raise SystemExit(f"error: {error}") from None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        tracker = self._parent_run(grouping, sweep_dir) if grouping else None
        pending = [
            TrialJob(
                tuple(overrides),
                num,
                log_file=str(sweep_dir / str(num) / "job.log"),
                tracking_uri=grouping.tracking_uri if grouping else None,
                parent_run_id=tracker.parent_run_id if tracker else None,
            )
            for num, overrides in enumerate(job_overrides, start=initial_job_idx)
        ]
        runner = TrialRunner(self.hydra_context, self.task_function, self.config)
        executor = make_executor(
            settings, runner, slots.first(len(pending)), sweep_dir / "slurm", worker_preload(self.config)
        )
        per_job = 1 if isinstance(settings, LocalSettings | SubmititLocalSettings) else trials_per_job(settings)
        each = (
            f"one {executor.job_kind} each" if per_job == 1 else f"up to {per_job} packed in each {executor.job_kind}"
        )
        log.info(f"Launching {len(pending)} jobs, {slots.size} at a time, {each}")
        if slots.describe():
            log.info(slots.describe())
        status = "KILLED"
        try:
            outcomes = _run_all(executor, pending, slots.size)
            numbers = range(initial_job_idx, initial_job_idx + len(job_overrides))
            rows = [JobRow.of(num, job_overrides[num - initial_job_idx], outcomes[num]) for num in numbers]
            self._report(rows, grouping, tracker)
            status = "FINISHED"
        finally:
            if tracker is not None:
                tracker.end_parent(status)
        return [_job_return(job_overrides[num - initial_job_idx], outcomes[num]) for num in numbers]

    def _parent_run(self, grouping: Grouping, sweep_dir: Path) -> SweepTracker:
        """The multirun's parent run: created for its first batch, continued for the next ones."""
        tracker = SweepTracker(grouping.tracking_uri, grouping.experiment)
        if self.parent_run_id is not None:
            tracker.reopen_parent(self.parent_run_id)
        else:
            name = "multirun " + "/".join(sweep_dir.parts[-2:])
            overrides = OmegaConf.select(self.config, "hydra.overrides.task", default=None)
            typed = cast(list[str], OmegaConf.to_container(overrides)) if overrides is not None else []
            settings = {"multirun": {"sweep_dir": str(sweep_dir.absolute()), "overrides": " ".join(typed)}}
            self.parent_run_id = tracker.create_parent(name, settings, provenance_tags(typed))
        return tracker

    @staticmethod
    def _report(rows: list[JobRow], grouping: Grouping | None, tracker: SweepTracker | None) -> None:
        """The jobs in a table (best first, by the objective of sweepwise's training); on the parent run, the
        counts and the best job."""
        direction = grouping.direction if grouping else None
        console = Console(soft_wrap=True)
        console.print(jobs_table(rows, direction))
        if tracker is None or grouping is None:
            return
        complete = [row for row in rows if row.status == "COMPLETE"]
        metrics: dict[str, float] = {"jobs/complete": len(complete), "jobs/fail": len(rows) - len(complete)}
        tags: dict[str, str] = {}
        ranked = [row for row in complete if isinstance(row.value, float) and math.isfinite(row.value)]
        if ranked:
            best = (max if grouping.direction == "maximize" else min)(ranked, key=lambda row: cast(float, row.value))
            metrics[f"best/{grouping.metric}"] = cast(float, best.value)
            tags.update({"best.job": str(best.number), "best.overrides": " ".join(best.overrides)})
        tracker.log_parent(metrics, tags, step=len(rows))
        console.print(
            f"compare the jobs: make ui  (MLflow UI on {hide_password(grouping.tracking_uri)}, "
            f"experiment {grouping.experiment})",
            markup=False,
        )


def _run_all(executor: Executor, pending: list[TrialJob], slots: int) -> dict[int, TrialOutcome | Died]:
    """Each job's outcome, with `slots` jobs in flight and the next one started the moment one ends."""
    outcomes: dict[int, TrialOutcome | Died] = {}
    running: set[int] = set()
    try:
        while pending or running:
            while pending and max(len(running), executor.held) < slots:
                job = pending.pop(0)
                job_id = executor.submit(job.job_num, job)
                where = f" ({executor.job_kind} {job_id})" if job_id else ""
                log.info(f"\t#{job.job_num}{where} : {' '.join(filter_overrides(job.overrides))}")
                running.add(job.job_num)
            for started in executor.dispatch():
                for number, job_id in started.trial_ids.items():
                    log.info(f"\t#{number} packed in {executor.job_kind} {job_id}")
            for key, outcome in executor.wait(None):
                running.discard(key)
                outcomes[key] = outcome
    finally:
        executor.shutdown()
    return outcomes


def _job_return(overrides: Sequence[str], outcome: TrialOutcome | Died) -> JobReturn:
    result = JobReturn(overrides=list(overrides))
    if isinstance(outcome, Died):
        result.status, result.return_value = JobStatus.FAILED, JobFailed(outcome.reason)
        return result
    if outcome.job is not None:
        result.cfg, result.hydra_cfg = outcome.job.cfg, outcome.job.hydra_cfg
        result.working_dir, result.task_name = outcome.job.working_dir, outcome.job.task_name
    if outcome.status is TrialStatus.COMPLETE:
        result.status, result.return_value = JobStatus.COMPLETED, outcome.return_value
    else:
        remote = f"\n\nthe job's traceback:\n{outcome.traceback}" if outcome.traceback else ""
        result.status, result.return_value = JobStatus.FAILED, JobFailed(f"{outcome.reason}{remote}")
    return result
