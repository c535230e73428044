"""The trial side of pruning: report the objective metric every epoch and stop when the pruner says so."""

from collections.abc import Mapping

import optuna
from hydra.utils import instantiate

from sweepwise.sweep.context import TrialContext
from sweepwise.sweep.storage import open_storage

PRUNED_PREFIX = "pruned"


class PruningReporter:
    """An epoch callback of the training loop, bound to this process's Optuna trial.

    The pruner is not stored with the study, so it is rebuilt here from the same config as the orchestrator's.
    """

    def __init__(self, context: TrialContext, metric: str) -> None:
        pruner = instantiate(context.pruner) if context.pruner else None
        storage = open_storage(context.storage)
        study = optuna.load_study(study_name=context.study_name, storage=storage, pruner=pruner)
        self.trial = optuna.trial.Trial(study, context.trial_id)
        self.metric = metric
        # epochs an earlier attempt of this trial reported (a resumed trial replays its checkpoint's epoch)
        self.reported = set(storage.get_trial(context.trial_id).intermediate_values)

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> str | None:
        if epoch not in self.reported:
            self.trial.report(metrics[self.metric], step=epoch)
        if self.trial.should_prune():
            return f"{PRUNED_PREFIX} at epoch {epoch}: {self.metric} {metrics[self.metric]:.4g}"
        return None


def reports_to_study(context: TrialContext | None) -> bool:
    """A trial of a single-objective sweep reports every epoch (the intermediate-values plot needs it even
    without a pruner; Optuna's NopPruner then never stops it). Optuna cannot prune multi-objective trials."""
    return context is not None and len(context.directions) == 1
