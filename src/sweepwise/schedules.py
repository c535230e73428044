"""Learning-rate schedules as multipliers of the base learning rate, defined on the fraction of training done.

A schedule sees `fraction = optimiser step / total optimiser steps`, never an epoch number, so `cosine` means the
same thing whatever the data-set size, batch size or epoch count.
"""

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

from sweepwise.errors import ConfigError


def _check_fraction(key: str, value: float) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(key, value, "must be a fraction of training in [0, 1]")
    return float(value)


class Schedule(ABC):
    """Maps the fraction of optimiser steps done, in [0, 1], to a learning-rate multiplier."""

    def __init__(self, warmup_fraction: float = 0.0) -> None:
        self.warmup_fraction = _check_fraction("schedule.warmup_fraction", warmup_fraction)

    def __call__(self, fraction: float) -> float:
        if fraction < self.warmup_fraction:
            return fraction / self.warmup_fraction
        return self.after_warmup(fraction)

    def progress(self, fraction: float) -> float:
        """How far past warm-up `fraction` is, from 0 (warm-up done) to 1 (end of training)."""
        span = 1.0 - self.warmup_fraction
        return (fraction - self.warmup_fraction) / span if span > 0 else 1.0

    @abstractmethod
    def after_warmup(self, fraction: float) -> float:
        """Multiplier once warm-up is over."""


class Constant(Schedule):
    def after_warmup(self, fraction: float) -> float:
        return 1.0


class Cosine(Schedule):
    """Half a cosine from 1 down to `final_ratio`, after a linear warm-up."""

    def __init__(self, warmup_fraction: float = 0.0, final_ratio: float = 0.0) -> None:
        super().__init__(warmup_fraction)
        self.final_ratio = _check_fraction("schedule.final_ratio", final_ratio)

    def after_warmup(self, fraction: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * self.progress(fraction)))
        return self.final_ratio + (1.0 - self.final_ratio) * cosine


class Linear(Schedule):
    """A straight line from 1 down to `final_ratio`, after a linear warm-up."""

    def __init__(self, warmup_fraction: float = 0.0, final_ratio: float = 0.0) -> None:
        super().__init__(warmup_fraction)
        self.final_ratio = _check_fraction("schedule.final_ratio", final_ratio)

    def after_warmup(self, fraction: float) -> float:
        return 1.0 - (1.0 - self.final_ratio) * self.progress(fraction)


class Step(Schedule):
    """Multiply by `gamma` at each milestone, given as fractions of training (e.g. [0.5, 0.75])."""

    def __init__(self, milestones: Sequence[float] = (0.5, 0.75), gamma: float = 0.1, warmup_fraction: float = 0.0):
        super().__init__(warmup_fraction)
        self.milestones = sorted(_check_fraction("schedule.milestones", m) for m in milestones)
        if not 0.0 < float(gamma) <= 1.0:
            raise ConfigError("schedule.gamma", gamma, "must be in (0, 1]")
        self.gamma = float(gamma)

    def after_warmup(self, fraction: float) -> float:
        return self.gamma ** sum(fraction >= milestone for milestone in self.milestones)
