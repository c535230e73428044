"""What the sweep tells a trial's process about the trial it runs: plain data, shipped with each job."""

from dataclasses import dataclass, field
from typing import Any


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
    # the sweep's params of this trial (searched and fixed), logged on its run when the run is created
    params: dict[str, Any] = field(default_factory=dict)
    # the trial's MLflow run: created by the trial's process on its first attempt, reused by later attempts
    run_id: str | None = None
    attempt: int = 0
    # the sweep's schedule (`sweepwise.spec.sweep_schedule`, as facts): the steps at which the trial pauses
    schedule: dict[str, Any] | None = None
