"""What a SLURM job runs: one trial job, requeued on submitit's checkpoint signal as the same trial's next attempt.

On preemption, `scancel --signal=USR2` or the approach of the time limit, submitit calls `checkpoint`, requeues
the job with what it returns and exits. The trial's training has written a checkpoint every epoch; the requeued
job is the same Optuna trial and MLflow run with `attempt` one higher, so the training resumes from that
checkpoint and its metrics continue at the next epoch.
"""

import os
from dataclasses import replace
from typing import TYPE_CHECKING

import submitit
from submitit.core.utils import JobPaths
from submitit.helpers import DelayedSubmission

from sweepwise.sweep.outcome import TrialOutcome
from sweepwise.sweep.trial.trial_runner import TrialJob, TrialRunner
from sweepwise.trial_api import Trial

if TYPE_CHECKING:  # the job's side imports torch: the sweep's own process, which imports this, needs none
    from sweepwise.training.cluster_ranks import ClusterRank


class RequeueableTrial:
    """The trial runner as submitit's checkpointable callable. In a job of several tasks (a trial on several
    processes), task 0 runs the trial and the others are its ranks r > 0."""

    def __init__(self, runner: TrialRunner) -> None:
        self.runner = runner

    def __call__(self, job: TrialJob) -> TrialOutcome | None:
        from sweepwise.training.cluster_ranks import follow_rank_zero, meeting_point

        place = _place_in_job()
        if place is None:
            return self.runner(job)
        os.environ.update(place.environment())
        if place.rank > 0:
            follow_rank_zero(place)
            return None
        with meeting_point(place):
            return self.runner(job)

    def checkpoint(self, job: TrialJob) -> DelayedSubmission:
        context, trial = job.context, note_requeue(self.runner)
        if context is not None:
            run_id = trial.facts.run_id if trial is not None else context.run_id
            context = replace(context, run_id=run_id, attempt=context.attempt + 1)
        return DelayedSubmission(RequeueableTrial(self.runner), replace(job, context=context))


def note_requeue(runner: TrialRunner) -> Trial | None:
    """Tell the running trial that the exit that follows is a requeue, not the trial's failure."""
    if runner.trial is not None:
        runner.trial.requeued = True
    return runner.trial


def _place_in_job() -> "ClusterRank | None":
    """This task's place in the trial, when the job has several tasks (its folder holds where they meet, named
    after the job and its restart, so that a requeued job never reads an earlier start's address)."""
    job = submitit.JobEnvironment()
    if job.num_tasks == 1:
        return None
    restart = os.environ.get("SLURM_RESTART_COUNT", "0")
    rendezvous = job.paths.folder / f"{job.job_id}_{restart}_ranks"
    ended = JobPaths(job.paths.folder, job_id=job.job_id, task_id=0).result_pickle  # task 0's, once it ends
    per_node = job.num_tasks // job.num_nodes
    from sweepwise.training.cluster_ranks import ClusterRank

    return ClusterRank(job.global_rank, job.num_tasks, job.local_rank, per_node, rendezvous, ended)
