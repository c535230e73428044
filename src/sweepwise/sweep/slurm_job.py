"""What a SLURM job runs: one trial job, requeued on submitit's checkpoint signal as the same trial's next attempt.

On preemption, `scancel --signal=USR2` or the approach of the time limit, submitit calls `checkpoint`, requeues
the job with what it returns and exits. The trial's training has written a checkpoint every epoch; the requeued
job is the same Optuna trial and MLflow run with `attempt` one higher, so the training resumes from that
checkpoint and its metrics continue at the next epoch.
"""

from dataclasses import replace

from submitit.helpers import DelayedSubmission

from sweepwise.sweep.context import current_trial, mark_requeued
from sweepwise.sweep.trial_job import JobRunner, TrialJob, TrialOutcome


class SlurmTrial:
    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner

    def __call__(self, job: TrialJob) -> TrialOutcome:
        return self.runner(job)

    def checkpoint(self, job: TrialJob) -> DelayedSubmission:
        mark_requeued()  # the exit that follows is not the trial's failure
        context = job.context
        if context is not None:
            running = current_trial()
            run_id = running.run_id if running is not None else context.run_id
            context = replace(context, run_id=run_id, attempt=context.attempt + 1)
        return DelayedSubmission(SlurmTrial(self.runner), replace(job, context=context))
