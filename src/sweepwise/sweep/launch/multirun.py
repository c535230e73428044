"""The `local` and `slurm` launchers for plain multiruns (`-m a=1,2,3`): the jobs run in parallel worker
processes, or each as its own SLURM job, and each freed slot starts the next job at once."""

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from sweepwise.errors import SweepwiseError
from sweepwise.sweep.launch.choose import launcher_settings, make_executor
from sweepwise.sweep.launch.executor import Died
from sweepwise.sweep.outcome import TrialOutcome, TrialStatus
from sweepwise.sweep.trial.runner import TrialJob, TrialRunner

log = logging.getLogger(__name__)


class JobFailed(RuntimeError):
    """A job of a plain multirun failed; the message carries the job's own error."""


class MultirunLauncher:
    """Runs a plain multirun's jobs on the executor the `hydra.launcher` config names."""

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Run every job, at most `n_workers` (local) or `array_parallelism` (slurm) at once, and return their
        results in submission order."""
        launcher = cast(dict[str, Any], OmegaConf.to_container(self.config.hydra.launcher, resolve=True))
        try:
            settings = launcher_settings(launcher)
        except SweepwiseError as error:
            raise SystemExit(f"error: {error}") from None
        slots = settings.array_parallelism if settings else int(launcher["n_workers"])
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        pending = [
            TrialJob(tuple(overrides), num, None, str(sweep_dir / str(num) / "job.log"))
            for num, overrides in enumerate(job_overrides, start=initial_job_idx)
        ]
        runner = TrialRunner(self.hydra_context, self.task_function, self.config)
        executor = make_executor(settings, runner, min(slots, len(pending)), sweep_dir / "slurm")
        log.info(f"Launching {len(pending)} jobs, {slots} at a time, one {executor.job_kind} each")
        results: dict[int, JobReturn] = {}
        running: set[int] = set()
        try:
            while pending or running:
                while pending and len(running) < slots:
                    job = pending.pop(0)
                    job_id = executor.submit(job.job_num, job)
                    where = f" ({executor.job_kind} {job_id})" if job_id else ""
                    log.info(f"\t#{job.job_num}{where} : {' '.join(filter_overrides(job.overrides))}")
                    running.add(job.job_num)
                for key, outcome in executor.wait(None):
                    running.discard(key)
                    results[key] = self._job_return(job_overrides[int(key) - initial_job_idx], outcome)
        finally:
            executor.shutdown()
        return [results[num] for num in range(initial_job_idx, initial_job_idx + len(job_overrides))]

    @staticmethod
    def _job_return(overrides: Sequence[str], outcome: TrialOutcome | Died) -> JobReturn:
        result = JobReturn(overrides=list(overrides))
        if isinstance(outcome, Died):
            result.status, result.return_value = JobStatus.FAILED, JobFailed(outcome.reason)
        elif outcome.status is TrialStatus.COMPLETE:
            result.status, result.return_value = JobStatus.COMPLETED, outcome.return_value
        else:
            result.status, result.return_value = JobStatus.FAILED, JobFailed(outcome.reason)
        return result
