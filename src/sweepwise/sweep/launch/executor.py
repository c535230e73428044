"""What runs trial jobs for the orchestrator: worker processes here, or SLURM jobs on a cluster."""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sweepwise.sweep.outcome import TrialOutcome
    from sweepwise.sweep.trial.runner import TrialJob


@dataclass(frozen=True)
class Died:
    """A job whose process ended without a result (killed, crashed, cancelled by the cluster)."""

    reason: str


def pack_job_id(job_id: str, task: int) -> str:
    """The id a packed trial's job has for the sweep (what `dispatch` returns): the SLURM job and the trial's
    task, as submitit names the task's files (`1234_1`)."""
    return f"{job_id}_{task}"


def split_pack_job_id(job_id: str) -> tuple[str, int] | None:
    """(SLURM job id, task) of a packed trial's job id; None for a job of its own."""
    base, _, task = job_id.partition("_")
    return (base, int(task)) if task.isdigit() else None


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

    def dispatch(self) -> dict[int, str]:
        """Start the jobs held back (a pack of trials for one SLURM job); the ids of jobs started since the last
        call that `submit` did not return (a packed trial's: `pack_job_id`)."""

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
