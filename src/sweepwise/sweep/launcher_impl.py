"""The `local` launcher for plain multiruns (`-m a=1,2,3`): the jobs run in parallel worker processes."""

import logging
from collections.abc import Sequence
from pathlib import Path

from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from sweepwise.sweep.pool import Died, WorkerPool
from sweepwise.sweep.trial_job import JobRunner, TrialJob

log = logging.getLogger(__name__)


class JobFailed(RuntimeError):
    """A job of a plain multirun failed; the message carries the job's own error."""


class LocalLauncherImpl:
    def __init__(self, n_workers: int = 2) -> None:
        self.n_workers = n_workers

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Run every job, at most `n_workers` at once, and return their results in submission order."""
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        pending = [
            TrialJob(tuple(overrides), initial_job_idx + index, None, str(sweep_dir / f"{initial_job_idx + index}.log"))
            for index, overrides in enumerate(job_overrides)
        ]
        log.info(f"Launching {len(pending)} jobs on {self.n_workers} local worker processes")
        results: dict[int, JobReturn] = {}
        pool = WorkerPool(
            JobRunner(self.hydra_context, self.task_function, self.config), min(self.n_workers, len(pending))
        )
        try:
            while pending or pool.busy_keys:
                while pending and pool.idle:
                    job = pending.pop(0)
                    log.info(f"\t#{job.job_num} : {' '.join(filter_overrides(job.overrides))}")
                    pool.submit(job.job_num, job)
                for key, outcome in pool.wait(None):
                    results[int(key)] = self._job_return(job_overrides[int(key) - initial_job_idx], outcome)
        finally:
            pool.shutdown()
        return [results[initial_job_idx + index] for index in range(len(job_overrides))]

    @staticmethod
    def _job_return(overrides: Sequence[str], outcome) -> JobReturn:
        result = JobReturn(overrides=list(overrides))
        if isinstance(outcome, Died):
            result.status, result.return_value = JobStatus.FAILED, JobFailed(outcome.reason)
        elif outcome.status == "complete":
            result.status, result.return_value = JobStatus.COMPLETED, outcome.value
        else:
            result.status, result.return_value = JobStatus.FAILED, JobFailed(outcome.reason)
        return result
