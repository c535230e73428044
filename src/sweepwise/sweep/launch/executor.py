"""What runs trial jobs for the orchestrator: worker processes here, or SLURM jobs on a cluster."""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sweepwise.sweep.outcome import Died, TrialOutcome
    from sweepwise.sweep.trial.trial_runner import TrialJob


@dataclass(frozen=True)
class StartedJob:
    """A job that `dispatch` started for trials it held back (a pack of trials in one SLURM job): the job's id, and
    each trial's id (what `adopt` takes back after a restart)."""

    job_id: str
    trial_ids: dict[int, str]


class Executor(Protocol):
    """Runs trial jobs somewhere and reports each one's outcome as it ends."""

    # how its jobs are called in messages: "worker process", "SLURM job"
    job_kind: str

    @property
    def held(self) -> int:
        """The slots its jobs hold: each job submitted and not yet reported ended, and each ended trial of a pack
        whose job runs on (a pack's slots free together)."""

    def submit(self, key: int, job: "TrialJob") -> str | None:
        """Start `job`, or hold it for `dispatch`; returns the id the job has outside this process (a SLURM job
        id), if any."""

    def dispatch(self) -> list[StartedJob]:
        """Start the jobs held back (a pack of trials for one SLURM job): those started since the last call, whose
        ids `submit` did not return."""

    def wait(self, timeout: float | None) -> list[tuple[int, "TrialOutcome | Died"]]:
        """The jobs that ended, waiting up to `timeout` seconds for at least one."""

    def kill(self, key: int) -> None:
        """Stop a job now; `wait` then reports it as died."""

    def adopt(self, key: int, job_id: str, log_file: str | None) -> bool:
        """Watch again a job that an earlier, killed orchestrator started (by the id `submit` returned) if it is
        still queued or running, or has left its result; `wait` then reports it under `key`. False: it is gone."""

    def cancel_stale(self, job_id: str) -> None:
        """Stop a job that an earlier, killed orchestrator started (by the id `submit` returned)."""

    def log_files(self, key: int) -> list[Path]:
        """Output files the executor itself keeps for a job (besides the job's own log)."""

    def shutdown(self) -> None:
        """Stop every job still running and release the executor's resources."""
