"""How a trial ends in its study: COMPLETE with finite objective values, or PRUNED or FAIL with a reason."""

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    state: str  # an Optuna TrialState name: COMPLETE, PRUNED or FAIL
    values: list[float] | None = None
    reason: str = ""


def objective_verdict(value: Any, n_objectives: int) -> Verdict:
    """COMPLETE when the task returned `n_objectives` finite numbers; otherwise FAIL saying what it returned."""
    try:
        values = [float(value)] if n_objectives == 1 else [float(v) for v in value]
    except (TypeError, ValueError):
        expected = "a number" if n_objectives == 1 else f"a list of {n_objectives} numbers"
        return Verdict("FAIL", None, f"the task returned {value!r}, not {expected}")
    if len(values) != n_objectives:
        return Verdict("FAIL", None, f"the task returned {len(values)} values for {n_objectives} objectives")
    if not all(math.isfinite(v) for v in values):
        return Verdict("FAIL", None, f"the task returned a non-finite objective {values}")
    return Verdict("COMPLETE", values)
