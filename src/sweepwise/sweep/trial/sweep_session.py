"""The session a sweep's trial hands its training run: the trial's MLflow run, epoch reports to the study (and the
pruner's word), and whether the run continues an attempt that died."""

from collections.abc import Mapping

import optuna
from hydra.utils import instantiate

from sweepwise.session import EpochReport, TrialSession
from sweepwise.study.storage import open_storage
from sweepwise.sweep.trial.child_runs import open_child_run
from sweepwise.sweep.trial.trial_context import TrialContext
from sweepwise.tracking.params import mlflow_name


class SweepSession(TrialSession):
    """A trial's session; the sweep ends the trial's run once it knows how the trial ended."""

    def __init__(self, context: TrialContext) -> None:
        super().__init__(
            tracking_uri=context.tracking_uri,
            run_id=open_child_run(context),
            continues_attempt=context.attempt > 0,
            ends_run=False,
            logged_params=frozenset(mlflow_name(key) for key in context.params),
        )
        self.context = context

    def epoch_reports(self, metric: str) -> list[EpochReport]:
        """A trial of a single-objective sweep reports every epoch (the intermediate-values plot needs it even
        without a pruner; Optuna's NopPruner then never stops it). Optuna cannot prune multi-objective trials."""
        if len(self.context.directions) != 1:
            return []
        return [PruningReporter(self, metric)]


class PruningReporter:
    """Reports the objective metric to the trial's Optuna trial every epoch and stops the run when the pruner says
    so, noting it on the session.

    The pruner is not stored with the study, so it is rebuilt here from the same config as the orchestrator's.
    """

    def __init__(self, session: SweepSession, metric: str) -> None:
        context = session.context
        pruner = instantiate(context.pruner) if context.pruner else None
        storage = open_storage(context.storage)
        study = optuna.load_study(study_name=context.study_name, storage=storage, pruner=pruner)
        self.session, self.metric = session, metric
        self.trial = optuna.trial.Trial(study, context.trial_id)
        # epochs an earlier attempt of this trial reported (a resumed trial replays its checkpoint's epoch)
        self.reported = set(storage.get_trial(context.trial_id).intermediate_values)

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> str | None:
        if epoch not in self.reported:
            self.trial.report(metrics[self.metric], step=epoch)
        if not self.trial.should_prune():
            return None
        self.session.stopped_by_sweep = f"pruned at epoch {epoch}: {self.metric} {metrics[self.metric]:.4g}"
        return self.session.stopped_by_sweep
