"""What a SLURM job runs: one trial job, requeued on submitit's checkpoint signal as the same trial's next attempt.

On preemption, `scancel --signal=USR2` or the approach of the time limit, submitit calls `checkpoint`, requeues
the job with what it returns and exits. The trial's training has written a checkpoint every epoch; the requeued
job is the same Optuna trial and MLflow run with `attempt` one higher, so the training resumes from that
checkpoint and its metrics continue at the next epoch.
"""

from dataclasses import replace

from submitit.helpers import DelayedSubmission

from sweepwise.sweep.outcome import TrialOutcome
from sweepwise.sweep.trial.runner import TrialJob, TrialRunner


class RequeueableTrial:
    """The trial runner as submitit's checkpointable callable."""

    def __init__(self, runner: TrialRunner) -> None:
        self.runner = runner

    def __call__(self, job: TrialJob) -> TrialOutcome:
        return self.runner(job)

    def checkpoint(self, job: TrialJob) -> DelayedSubmission:
        context, session = job.context, self.runner.session
        if session is not None:
            session.requeued = True  # the exit that follows is not the trial's failure
        if context is not None:
            run_id = session.run_id if session is not None else context.run_id
            context = replace(context, run_id=run_id, attempt=context.attempt + 1)
        return DelayedSubmission(RequeueableTrial(self.runner), replace(job, context=context))
