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
        pruner = instantiate(context.pruner)
        study = optuna.load_study(study_name=context.study_name, storage=open_storage(context.storage), pruner=pruner)
        self.trial = optuna.trial.Trial(study, context.trial_id)
        self.metric = metric

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> str | None:
        self.trial.report(metrics[self.metric], step=epoch)
        if self.trial.should_prune():
            return f"{PRUNED_PREFIX} at epoch {epoch}: {self.metric} {metrics[self.metric]:.4g}"
        return None


def wants_pruning(context: TrialContext | None) -> bool:
    """Pruning applies to single-objective sweeps with a pruner other than Optuna's NopPruner."""
    if context is None or context.pruner is None or len(context.directions) != 1:
        return False
    return not str(context.pruner.get("_target_", "")).endswith("NopPruner")
