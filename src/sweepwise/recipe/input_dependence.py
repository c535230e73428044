"""Does the model learn from its inputs? The budget run against the same budget with every input zeroed, which
can learn the dumb baseline (the class priors, the target mean) but nothing from the inputs.

The two are compared by the task's score (`val/acc`, `val/r2`): higher is better, with a standard error. With
every input zero, a model gives every validation sample the same prediction, so the zeroed run's score is bounded
without running it (the largest class's share; an R^2 of 0). When the real run beats that bound clearly, no
zeroed run could have changed the verdict, and the run is skipped: its cost (as long as the real run) goes on the
pipelines the check is about, those that learn little."""

import math
from dataclasses import dataclass

SE_MARGIN = 3  # the real run must beat the zeroed one by this many standard errors of their difference
SOME_EVIDENCE = 1  # ... and beating it by this many is evidence too weak to decide either way (few samples)


@dataclass(frozen=True)
class ZeroedBound:
    """The most a zeroed-input run could score, known without running it, and the largest SE of such a score."""

    score: float
    se: float


# the zeroed-input run's final metrics, the bound that made it needless, or None when it diverged
ZeroedRun = dict[str, float] | ZeroedBound | None


def learns_from_inputs(real: dict[str, float], zeroed: ZeroedRun, constant: float, score: str) -> bool:
    """Clearly (3 SE) better on validation by `score` than the same budget with inputs zeroed (than the bound on
    any such run; than the constant baseline's `constant` score, when that run diverged)."""
    return standard_errors_above(real, zeroed, constant, score) > SE_MARGIN


def standard_errors_above(real: dict[str, float], zeroed: ZeroedRun, constant: float, score: str) -> float:
    """How many standard errors of their difference the real run's validation `score` is above the zeroed run's
    (the bound's; the constant baseline's when that run diverged)."""
    if zeroed is None:
        return (real[score] - constant) / max(real[f"{score}_se"], 1e-12)
    value, margin, _ = zeroed_score(real, zeroed, score)
    return (real[score] - value) / max(margin / SE_MARGIN, 1e-12)


def zeroed_score(
    real: dict[str, float], zeroed: dict[str, float] | ZeroedBound, score: str
) -> tuple[float, float, str]:
    """(the zeroed run's score or its bound; the margin the real run must beat it by; how it reads in a report)."""
    if isinstance(zeroed, ZeroedBound):
        margin = SE_MARGIN * math.hypot(real[f"{score}_se"], zeroed.se)
        return zeroed.score, margin, f"at most {zeroed.score:.4f} with zeros (the best constant prediction: not run)"
    margin = SE_MARGIN * math.hypot(real[f"{score}_se"], zeroed[f"{score}_se"])
    return zeroed[score], margin, f"{zeroed[score]:.4f} with zeros"
