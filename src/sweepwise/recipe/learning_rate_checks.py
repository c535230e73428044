"""Checks that search learning rates, so that a model that is merely slow at the configured rate is not called
broken: a range test draws the loss against an exponentially growing rate and suggests an interval for the sweep;
overfitting one batch tries rates around the configured one, and the range test's, before it fails; and a check
that saw no learning at the configured rate, while the pipeline learned at a higher one (the range test's loss
halved above it, or only a higher rate memorised one batch), reports slow learning (WARN), not a broken
pipeline."""

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from sweepwise.figures import pyplot, save_figure
from sweepwise.recipe.pipeline import Pipeline
from sweepwise.recipe.report import FAIL, PASS, WARN, CheckResult

OVERFIT_LOSS = 0.05
OVERFIT_FACTORS = (1.0, 3.0, 10.0, 0.3, 0.1)  # of the configured learning rate, in the order they are tried
RANGE_LOW, RANGE_HIGH = 1e-6, 10.0  # the learning rates the range test sweeps, geometrically
RANGE_STOP = 4.0  # the range test stops once its smoothed loss is this many times its lowest
RANGE_SMOOTHING = 0.9  # exponential moving average of the range test's loss (bias-corrected)
RANGE_FELL = 0.9  # the smoothed loss must fall below this fraction of its start for a suggestion
SUGGEST_HIGH, SUGGEST_LOW = 1 / 3, 1 / 100  # the suggested interval, as fractions of the lowest loss's rate
FAR_BELOW = 1 / 300  # a configured rate below this fraction of the lowest loss's rate is far too low
RANGE_LEARNED = 0.5  # a range test whose smoothed loss halves shows the pipeline can learn


@dataclass(frozen=True)
class RangeCurve:
    """The range test's learning rates and smoothed losses, one step at each rate."""

    rates: np.ndarray
    losses: np.ndarray

    @property
    def fell(self) -> bool:
        return len(self.losses) >= 2 and bool(self.losses.min() <= RANGE_FELL * self.losses[0])

    @property
    def best(self) -> float:
        """The rate of the lowest smoothed loss."""
        return float(self.rates[int(self.losses.argmin())])

    @property
    def suggested(self) -> tuple[float, float]:
        return self.best * SUGGEST_LOW, self.best * SUGGEST_HIGH

    def rate_to_try(self, configured: float | None) -> float | None:
        """The middle of the suggested interval (geometrically), when `configured` is below it and the loss fell:
        a rate worth trying where the configured one learns nothing (the loss of noisy classes never halves)."""
        if configured is None or not self.fell:
            return None
        low, high = self.suggested
        return math.sqrt(low * high) if configured < low else None

    def learning_rate_for(self, configured: float | None) -> float | None:
        """A rate at which the pipeline visibly learns (`rate_to_try`), when the loss halved in the test; None
        when there is no such evidence."""
        return self.rate_to_try(configured) if self.losses.min() <= RANGE_LEARNED * self.losses[0] else None


def _memorise(
    pipeline: Pipeline, seed: int, batch: tuple[torch.Tensor, torch.Tensor], lr: float | None, max_steps: int
) -> tuple[bool, float, int, int]:
    """Train a fresh model on one batch until it is memorised; (memorised, loss, right, steps)."""
    model = pipeline.model(seed)
    optimizer = pipeline.optimizer(model, lr)
    inputs, labels = batch
    model.train()
    loss, right, step = float("inf"), 0, 0
    for step in range(1, max_steps + 1):
        with pipeline.autocast():
            logits = model(inputs)
        loss_tensor = pipeline.task.loss(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss_tensor.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        optimizer.step()
        loss, right = float(loss_tensor.detach()), pipeline.task.right(logits.detach().float(), labels)
        if loss < OVERFIT_LOSS and right == len(labels):
            return True, loss, right, step
    return False, loss, right, step


def overfit_one_batch(
    pipeline: Pipeline, seed: int, samples: int, max_steps: int, rate_to_try: float | None = None
) -> tuple[CheckResult, float | None]:
    """A few samples, regularisation off, the configured optimiser at a constant learning rate: loss near zero and
    every prediction right within `max_steps`. Tried at the configured rate first (stopping at the first success),
    then at rates around it and at `rate_to_try` (the range test's, when the configured rate is below its
    interval): FAIL only when none memorises the batch, WARN when only another rate does. Also returns the higher
    rate that memorised it when only a higher one did (the configured rate is too low), else None."""
    name, criterion = "overfit one batch", f"loss < {OVERFIT_LOSS} and all right within {max_steps} steps"
    samples = pipeline.task.memorisable(samples, pipeline.data)
    batch = pipeline.first_batch(samples, seed)
    configured = pipeline.learning_rate
    factors: tuple[float, ...] = (1.0,)
    if configured is not None:
        factors = OVERFIT_FACTORS + ((rate_to_try / configured,) if rate_to_try is not None else ())
    first: tuple[bool, float, int, int] | None = None
    for factor in factors:
        lr = configured * factor if configured is not None else None
        memorised, loss, right, steps = _memorise(pipeline, seed, batch, lr, max_steps)
        first = first or (memorised, loss, right, steps)
        if memorised:
            break
    assert first is not None  # at least the configured rate was tried
    _, first_loss, first_right, first_steps = first
    at_configured = f"loss {first_loss:.4f}, {first_right}/{samples} right after {first_steps} steps"
    if memorised and factor == 1.0:
        return CheckResult(name, PASS, at_configured, criterion, value=first_loss), None
    if memorised:
        direction = "low" if factor > 1 else "high"
        return CheckResult(
            name,
            WARN,
            f"at lr {configured:.3g}: {at_configured}; memorised at lr {lr:.3g} in {steps} steps",
            criterion,
            f"the configured learning rate may be too {direction}: only lr {lr:.3g} memorised the batch",
            value=first_loss,
        ), (lr if factor > 1 else None)
    return CheckResult(
        name,
        FAIL,
        f"{at_configured}; no better at {len(factors) - 1} other rates (x{', x'.join(f'{f:.3g}' for f in factors[1:])})"
        if len(factors) > 1
        else at_configured,
        criterion,
        "the model cannot even memorise a few samples at any learning rate near the configured one: the loss is "
        "misapplied (e.g. softmax before a loss that expects logits) or the model is crippled",
        value=first_loss,
    ), None


def range_curve(pipeline: Pipeline, seed: int, steps: int) -> RangeCurve:
    """One step at each rate from `RANGE_LOW` up to `RANGE_HIGH`, stopped when the loss leaves its minimum far
    behind or stops being finite."""
    model = pipeline.model(seed)
    optimizer = pipeline.optimizer(model, RANGE_LOW)
    model.train()
    rates, smoothed = [], []
    average, lowest = 0.0, math.inf
    for index, (lr, (inputs, labels)) in enumerate(
        zip(np.geomspace(RANGE_LOW, RANGE_HIGH, steps), pipeline.batches(seed), strict=False)
    ):
        for group in optimizer.param_groups:
            group["lr"] = float(lr)
        with pipeline.autocast():
            loss = pipeline.task.loss(model(inputs).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        optimizer.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        average = RANGE_SMOOTHING * average + (1 - RANGE_SMOOTHING) * value
        current = average / (1 - RANGE_SMOOTHING ** (index + 1))
        rates.append(float(lr))
        smoothed.append(current)
        lowest = min(lowest, current)
        if current > RANGE_STOP * lowest:
            break
    return RangeCurve(np.asarray(rates), np.asarray(smoothed))


def lr_range_test(pipeline: Pipeline, curve: RangeCurve, folder: Path) -> tuple[CheckResult, Path | None]:
    """The loss against an exponentially growing learning rate (plotted), with the interval it suggests for the
    sweep's `lr`: below the rate of the lowest loss, where training is fast and still stable. A configured rate
    above that rate, or far below it, is a WARN."""
    name = "learning-rate range test"
    configured = pipeline.learning_rate
    if not curve.fell:
        last = curve.rates[-1] if len(curve.rates) else RANGE_LOW
        return CheckResult(
            name,
            WARN,
            f"no rate from {RANGE_LOW:g} to {last:.3g} lowered the loss",
            f"the smoothed loss falls below {RANGE_FELL:.0%} of its start",
            "nothing learns at any rate: see the other checks",
        ), None
    best, (low, high) = curve.best, curve.suggested
    plot = _plot(curve.rates, curve.losses, (low, high), configured, folder)
    suggestion = f"suggested: optimizer.lr=tag(log, interval({low:.2g}, {high:.2g}))"
    if configured is None:
        return CheckResult(name, PASS, f"lowest loss at lr {best:.3g}; {suggestion}", "-", value=best), plot
    status, meaning = PASS, ""
    if configured > best:
        status, meaning = WARN, "the configured learning rate is past the lowest loss: training may be unstable"
    elif configured < best * FAR_BELOW:
        status, meaning = WARN, "the configured learning rate is far below where the loss falls fastest: slow"
    return CheckResult(
        name,
        status,
        f"lowest loss at lr {best:.3g}, configured {configured:.3g}; {suggestion}",
        f"configured lr between {FAR_BELOW:.2g}x and 1x the rate of the lowest loss",
        meaning,
        value=best,
    ), plot


@dataclass(frozen=True)
class FasterRate:
    """A rate above the configured one at which the pipeline was seen to learn, and what showed it."""

    rate: float
    shown_by: str


def faster_rate(range_rate: float | None, memorised_at: float | None) -> FasterRate | None:
    """Evidence that the configured rate is too low rather than the pipeline broken: the range test's loss halved
    at rates above it (`RangeCurve.learning_rate_for`), or one batch was memorised only at a higher rate."""
    if range_rate is not None:
        return FasterRate(range_rate, "below the range test's interval, where its loss halved")
    if memorised_at is not None:
        return FasterRate(memorised_at, f"while one batch was memorised only at lr {memorised_at:.3g}")
    return None


def slow_not_broken(result: CheckResult, configured: float | None, faster: FasterRate | None) -> CheckResult:
    """A check that saw no learning at the configured rate is a WARN, slow learning, when the pipeline was seen
    learning at a higher rate (`faster`)."""
    if result.status != FAIL or faster is None or configured is None:
        return result
    return replace(
        result,
        status=WARN,
        measured=f"{result.measured}; at lr {configured:.3g}, {faster.shown_by}",
        meaning=f"slow, not broken: the pipeline learns at higher rates; try lr {faster.rate:.2g}",
    )


def _plot(
    rates: np.ndarray, losses: np.ndarray, suggested: tuple[float, float], configured: float | None, folder: Path
) -> Path:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.plot(rates, losses)
    axis.set_xscale("log")
    axis.axvspan(*suggested, color="green", alpha=0.15, label="suggested interval")
    if configured is not None:
        axis.axvline(configured, color="gray", linestyle=":", label=f"configured lr {configured:.3g}")
    axis.set_xlabel("learning rate")
    axis.set_ylabel("training loss (smoothed)")
    axis.set_title("learning-rate range test")
    axis.legend()
    return save_figure(figure, folder / "lr_range_test.png")
