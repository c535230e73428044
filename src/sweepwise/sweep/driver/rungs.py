"""The asha schedule's promotions, decided from the study alone, so that a re-run after a kill promotes as the
killed sweep would have.

A trial paused at rung k (`paused_at_rung`) goes on once its value there is among the top 1/reduction_factor of
all the work that has reached rung k (paused there, gone on past it, or ended after it): a new trial continues its
work from its checkpoint, in its folder and MLflow run (`continues`, as for an interrupted trial). Higher rungs go
first, so the most promising work reaches the end soonest; a slot with no promotion due starts a new trial.
"""

import math
from collections.abc import Sequence

from optuna.trial import FrozenTrial, TrialState

from sweepwise.spec.sweep_schedule import Asha
from sweepwise.study.records import CONTINUES_ATTR, PAUSED_ATTR


def promotion(trials: Sequence[FrozenTrial], schedule: Asha | None, maximize: bool) -> FrozenTrial | None:
    """The paused trial to continue now, if a rung's top holds one (none without a schedule)."""
    if schedule is None:
        return None
    continuing = {int(t.user_attrs[CONTINUES_ATTR]): t for t in trials if CONTINUES_ATTR in t.user_attrs}
    started = {number for number, t in continuing.items() if t.state != TrialState.WAITING}
    # each piece of work once, by its latest started trial (a continuation queued but not started has no values)
    latest = [t for t in trials if t.state != TrialState.WAITING and t.number not in started]
    paused = [t for t in latest if is_paused(t) and t.number not in continuing]
    for rung in sorted({int(t.user_attrs[PAUSED_ATTR]) for t in paused}, reverse=True):
        reached = {t.number: value for t in latest if (value := value_at(t, schedule.budget(rung))) is not None}
        ranked = sorted(reached, key=lambda number: -reached[number] if maximize else reached[number])
        top = ranked[: len(ranked) // schedule.reduction_factor]
        due = [t for t in paused if int(t.user_attrs[PAUSED_ATTR]) == rung and t.number in top]
        if due:
            return min(due, key=lambda t: top.index(t.number))
    return None


def is_paused(trial: FrozenTrial) -> bool:
    """Whether the schedule paused the trial (it ended PRUNED at a rung, its work kept to go on)."""
    return trial.state == TrialState.PRUNED and PAUSED_ATTR in trial.user_attrs


def value_at(trial: FrozenTrial, step: int) -> float | None:
    """The value the trial reported on reaching `step`: at its first reported step from there (None: it did not
    get there, or the value is not a number)."""
    reached = [at for at in trial.intermediate_values if at >= step]
    value = trial.intermediate_values[min(reached)] if reached else None
    return value if value is not None and math.isfinite(value) else None
