"""Does the model learn from its inputs? The budget run against the same budget with every input zeroed, which
can learn the class priors but nothing from the inputs.

With every input zero, a model gives every validation sample the same prediction, so the zeroed run's val/acc is
one class's share, at most the largest's. When the real run beats that bound clearly, no zeroed run could have
changed the verdict, and the run is skipped: its cost (as long as the real run) goes on the pipelines the check is
about, those that learn little."""

import math
from dataclasses import dataclass

SE_MARGIN = 3  # the real run must beat the zeroed one by this many standard errors of their difference


@dataclass(frozen=True)
class ZeroedBound:
    """The most a zeroed-input run could reach, known without running it."""

    accuracy: float  # the largest class's share of the validation samples
    samples: int  # validation samples

    @property
    def se(self) -> float:
        """The largest standard error of any accuracy up to `accuracy`."""
        worst = min(self.accuracy, 0.5)
        return math.sqrt(worst * (1 - worst) / self.samples)


# the zeroed-input run's final metrics, the bound that made it needless, or None when it diverged
ZeroedRun = dict[str, float] | ZeroedBound | None


def learns_from_inputs(real: dict[str, float], zeroed: ZeroedRun, majority: float) -> bool:
    """Clearly (3 SE) better on validation than the same budget with inputs zeroed (than the bound on any such run;
    than always answering the majority class, when that run diverged)."""
    if zeroed is None:
        return real["val/acc"] - majority > SE_MARGIN * real["val/acc_se"]
    accuracy, margin, _ = zeroed_accuracy(real, zeroed)
    return real["val/acc"] - accuracy > margin


def zeroed_accuracy(real: dict[str, float], zeroed: dict[str, float] | ZeroedBound) -> tuple[float, float, str]:
    """(the zeroed run's val/acc or its bound; the margin the real run must beat it by; how it reads in a report)."""
    if isinstance(zeroed, ZeroedBound):
        margin = SE_MARGIN * math.hypot(real["val/acc_se"], zeroed.se)
        return zeroed.accuracy, margin, f"at most {zeroed.accuracy:.4f} with zeros (the largest class's share: not run)"
    margin = SE_MARGIN * math.hypot(real["val/acc_se"], zeroed["val/acc_se"])
    return zeroed["val/acc"], margin, f"{zeroed['val/acc']:.4f} with zeros"
