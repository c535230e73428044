"""How a trial ended, decided in the trial's process and carried to the sweep as data (also from a SLURM job).

One vocabulary: COMPLETE (with finite objective values), PRUNED, FAIL (each with a reason), and TRACKING_LOST
(the MLflow server stopped answering: not the trial's own failure, so the study records it as an interrupted FAIL
and a resumed sweep runs it again).
"""

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from optuna.trial import TrialState

from sweepwise.errors import first_line


class TrialStatus(StrEnum):
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAIL = "FAIL"
    TRACKING_LOST = "TRACKING_LOST"

    @property
    def study_state(self) -> TrialState:
        """The Optuna state the study records (it has no state for a lost tracking server)."""
        return TrialState.FAIL if self is TrialStatus.TRACKING_LOST else TrialState[self.value]


@dataclass(frozen=True)
class Died:
    """A job whose process ended without a result (killed, crashed, cancelled by the cluster): no outcome came
    back, so the sweep decides whether to retry it."""

    reason: str


@dataclass(frozen=True)
class JobRecord:
    """What Hydra's `JobReturn` tells the caller of a plain multirun besides the result: the job's task config,
    its Hydra config, where it ran and its task name. (A sweep's trials return none of it: it would cost a copy
    of the config per trial that nothing reads.)"""

    cfg: Any
    hydra_cfg: Any
    working_dir: str | None
    task_name: str | None


INTERRUPTED = "interrupted: "  # how the reason of an interrupted trial's FAIL begins
PAUSED = "paused"  # how the reason of a trial the schedule paused (PRUNED, its work to go on) begins


@dataclass(frozen=True)
class TrialOutcome:
    """A trial's end: its status, objective values (COMPLETE only), reason (PRUNED, FAIL, TRACKING_LOST), the task's
    own return value (a plain multirun's jobs return it to Hydra, with their `job` record), when it ran, and its
    MLflow run."""

    status: TrialStatus
    values: tuple[float, ...] | None = None
    reason: str = ""
    return_value: Any = None
    started: float = 0.0
    ended: float = 0.0
    run_id: str | None = None
    job: JobRecord | None = None
    traceback: str = ""  # where the task raised (FAIL), shown to a plain multirun's caller as Hydra shows its own

    @property
    def interrupted(self) -> bool:
        """A FAIL that was not the trial's doing: a stopped sweep, a lost tracking server (its work goes on)."""
        return self.status is TrialStatus.FAIL and self.reason.startswith(INTERRUPTED)

    @property
    def paused(self) -> bool:
        """A PRUNED trial whose work goes on once the schedule promotes it (see `sweep.driver.rungs`)."""
        return self.status is TrialStatus.PRUNED and self.reason.startswith(PAUSED)

    def summary(self, number: int) -> str:
        """Trial `number`'s line as the sweep shows its end: state, time and values, or the reason's first line."""
        shown = f"value {', '.join(f'{v:.4g}' for v in self.values)}" if self.values else first_line(self.reason)
        state = "PAUSED" if self.paused else self.status.study_state.name
        return f"trial {number} {state} in {self.ended - self.started:.1f} s: {shown}"


def objective_outcome(value: Any, n_objectives: int) -> TrialOutcome:
    """COMPLETE when the task returned `n_objectives` finite numbers; otherwise FAIL saying what it returned."""
    try:
        values = (float(value),) if n_objectives == 1 else tuple(float(v) for v in value)
    except (TypeError, ValueError):
        expected = "a number" if n_objectives == 1 else f"a list of {n_objectives} numbers"
        return TrialOutcome(TrialStatus.FAIL, reason=f"the task returned {value!r}, not {expected}", return_value=value)
    if len(values) != n_objectives:
        reason = f"the task returned {len(values)} values for {n_objectives} objectives"
        return TrialOutcome(TrialStatus.FAIL, reason=reason, return_value=value)
    if not all(math.isfinite(v) for v in values):
        reason = f"the task returned a non-finite objective {list(values)}"
        return TrialOutcome(TrialStatus.FAIL, reason=reason, return_value=value)
    return TrialOutcome(TrialStatus.COMPLETE, values=values, return_value=value)
