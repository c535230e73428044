"""What a trial process knows about the sweep it belongs to, set by the worker around each trial."""

from dataclasses import dataclass
from typing import Any

_current: "TrialContext | None" = None
_requeued = False


@dataclass(frozen=True)
class TrialContext:
    """Everything a trial needs to report to its Optuna trial and log into its MLflow child run."""

    study_name: str
    storage: str
    trial_id: int
    trial_number: int
    directions: tuple[str, ...]
    pruner: dict[str, Any] | None
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    # the trial's MLflow run: created by the trial's process on its first attempt, reused by later attempts
    run_id: str | None = None
    attempt: int = 0


def current_trial() -> TrialContext | None:
    """The trial this process is running now, or None outside a sweep."""
    return _current


def set_current_trial(context: TrialContext | None) -> None:
    global _current
    _current = context


def mark_requeued() -> None:
    """Note that the cluster is about to requeue this trial's job: the exit that follows is not its failure."""
    global _requeued
    _requeued = True


def is_requeued() -> bool:
    return _requeued
