"""What a SLURM job holding a pack of trials runs (`hydra.launcher.trials_per_gpu` above 1): task i runs trial i.

Each trial's outcome is a file of its own, written the moment the trial ends, so the sweep learns it at once
(submitit's result of a task only comes when the task ends). The tasks share the job's GPUs, `trials_per_gpu` on
each, and all stop at once when SLURM requeues or cancels the job. Task 0 answers submitit's checkpoint signal
for the whole job, so it stays once its own trial has ended, until every other task's trial has ended. A
requeued job (preempted, or at its time limit) starts every task again: a trial that had ended keeps its outcome;
the others continue from their last checkpoint, in their MLflow run, as the next attempt.
"""

import os
import pickle
import signal
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType

import cloudpickle
import submitit
from submitit.helpers import DelayedSubmission

from sweepwise.study.records import RUN_ID_ATTR
from sweepwise.study.storage import open_storage
from sweepwise.sweep.launch.slurm_requeue import note_requeue
from sweepwise.sweep.outcome import TrialOutcome
from sweepwise.sweep.trial.trial_runner import TrialJob, TrialRunner

POLL_S = 1.0
START_GRACE_S = 300.0  # a task that has not started by then never will (SLURM starts a step's tasks together)


def pack_job_id(job_id: str, task: int) -> str:
    """A packed trial's id for the sweep (stored with the trial, handed back to `adopt`): the SLURM job and the
    trial's task, as submitit names the task's files (`1234_1`)."""
    return f"{job_id}_{task}"


def split_pack_job_id(job_id: str) -> tuple[str, int] | None:
    """(SLURM job id, task) of a packed trial's id; None for a job of its own."""
    base, _, task = job_id.partition("_")
    return (base, int(task)) if task.isdigit() else None


def outcome_path(folder: Path, job_id: str, task: int) -> Path:
    return folder / f"{job_id}_{task}_outcome.pkl"


def read_outcome(path: Path) -> TrialOutcome:
    with open(path, "rb") as file:
        outcome: TrialOutcome = pickle.load(file)
    return outcome


def _pid_path(folder: Path, job_id: str, task: int) -> Path:
    """Where a task notes its process id, per start of the job (a requeued job's tasks are new processes)."""
    return folder / f"{job_id}_{task}_pid_{os.environ.get('SLURM_RESTART_COUNT', '0')}"


class PackedTrials:
    """The trial runner for a job of several trials, as submitit's checkpointable callable."""

    def __init__(self, runner: TrialRunner, trials_per_gpu: int) -> None:
        self.runner, self.trials_per_gpu = runner, trials_per_gpu

    def __call__(self, jobs: tuple[TrialJob, ...]) -> None:
        job = submitit.JobEnvironment()
        folder, task = job.paths.folder, job.global_rank
        _pid_path(folder, job.job_id, task).write_text(str(os.getpid()))
        outcome = outcome_path(folder, job.job_id, task)
        signal.signal(signal.SIGTERM, self._stop)
        if task < len(jobs) and not outcome.exists():
            _use_own_gpu(task, self.trials_per_gpu)
            restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0"))
            _write(outcome, self.runner(continued(jobs[task], restarts)))
        if task == 0:
            _wait_for_other_tasks(folder, job.job_id, job.num_tasks)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        """SLURM's SIGTERM to every task of a job it requeues or cancels: stop the trial now, leaving no outcome
        (it continues from its checkpoint when the job starts again; a cancelled job's trial is reported died),
        rather than train on for the seconds before the kill."""
        note_requeue(self.runner)
        raise SystemExit(-1)

    def checkpoint(self, jobs: tuple[TrialJob, ...]) -> DelayedSubmission:
        """The same pack again: the restart count makes each unfinished trial continue (see `continued`)."""
        note_requeue(self.runner)
        return DelayedSubmission(PackedTrials(self.runner, self.trials_per_gpu), jobs)


def continued(job: TrialJob, restarts: int) -> TrialJob:
    """A sweep's trial as the `restarts`-th restart of its job runs it: a later attempt, in the MLflow run its
    first attempt made (read from its Optuna trial, where that attempt recorded it)."""
    if restarts == 0 or job.context is None:
        return job
    context = job.context
    run_id = context.run_id or open_storage(context.storage).get_trial(context.trial_id).user_attrs.get(RUN_ID_ATTR)
    return replace(job, context=replace(context, run_id=run_id, attempt=context.attempt + restarts))


def _use_own_gpu(task: int, trials_per_gpu: int) -> None:
    """Narrow the job's GPUs to this task's: tasks 0..k-1 share the first, k..2k-1 the second, and so on."""
    gpus = [gpu for gpu in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if gpu]
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[(task // trials_per_gpu) % len(gpus)]


def _write(path: Path, outcome: TrialOutcome) -> None:
    written = path.with_name(f".{path.name}.tmp")
    written.write_bytes(cloudpickle.dumps(outcome))
    os.replace(written, path)


def _wait_for_other_tasks(folder: Path, job_id: str, tasks: int) -> None:
    """Until each other task's trial has an outcome, or its process is gone (killed: the sweep sees its job's
    end), or it never started."""
    never_started = time.monotonic() + START_GRACE_S
    waiting = set(range(1, tasks))
    while waiting:
        waiting = {
            task
            for task in waiting
            if not outcome_path(folder, job_id, task).exists()
            and _may_run(_pid_path(folder, job_id, task), time.monotonic() < never_started)
        }
        if waiting:
            time.sleep(POLL_S)


def _may_run(pid_file: Path, may_still_start: bool) -> bool:
    """Whether a task of this node's pack may still be running its trial (a pack's tasks share one node)."""
    if not pid_file.exists():
        return may_still_start
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        pass  # it exists, as another user's process
    return True
