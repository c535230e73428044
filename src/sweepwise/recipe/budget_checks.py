"""Checks built on two short training runs with the real loop (real inputs, then zeroed ones): the loss stays
finite and falls, the model beats dumb baselines and its own input-free twin, what a step costs, and whether the
planned run is long enough to learn what these runs learned.

"Slow" and "broken" are told apart by the zeroed-input run: a model whose loss falls less than asked but which
clearly beats its input-free twin learns from its inputs, slowly (a WARN); one that does not is a FAIL."""

import math
import resource
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sweepwise.errors import TrainingDiverged
from sweepwise.recipe.input_dependence import (
    SE_MARGIN,
    SOME_EVIDENCE,
    ZeroedBound,
    ZeroedRun,
    learns_from_inputs,
    standard_errors_above,
    zeroed_score,
)
from sweepwise.recipe.pipeline import Pipeline, StepLosses, ZeroedInputs
from sweepwise.recipe.report import FAIL, NOT_APPLICABLE, PASS, WARN, CheckResult, verdict
from sweepwise.recipe.target_checks import validation_predictions
from sweepwise.tasks import baselines

LOSS_DROP = 0.5  # the training loss should fall below half its value at init within the budget
SMOOTHING = 10  # steps averaged when finding where the loss first halved
TRAIN_LEARNED = 0.2  # a training score this far above the constant baseline's shows the model learned something


@dataclass(frozen=True)
class BudgetRuns:
    steps: int
    start_loss: float  # on the first training batch, before any step (the first step's; NaN when it was)
    losses: list[float]  # the real run's loss at every step it took
    real: dict[str, float] | None  # the real run's final metrics; None when it diverged
    zeroed: ZeroedRun  # the zeroed-input run's, or the bound that made it needless; None when it diverged
    seconds_per_step: float  # the real run's, its evaluations included
    peak_rss_mb: float
    cuda_peak_mb: float | None
    score: str  # the task's score: the metric the runs are compared by (val/acc, val/r2)
    train_score: float  # the trained model's score on training samples, in evaluation mode
    constant: tuple[float, float]  # the constant baseline's score (the majority class, the mean) on (train, val)
    # the trained model's (outputs, targets) on validation, for numeric targets (None: labels, or it diverged)
    val_predictions: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def diverged_at(self) -> int | None:
        """The first step whose loss was not finite (the last step taken, when the epoch's mean caught it)."""
        if self.real is not None:
            return None
        bad = [step for step, loss in enumerate(self.losses, 1) if not math.isfinite(loss)]
        return bad[0] if bad else len(self.losses)


def budget_runs(pipeline: Pipeline, seed: int, steps: int) -> BudgetRuns:
    """Train `steps` steps on the real inputs (timed, every loss recorded), then on zeroed inputs unless the real
    run halved its loss and beat any zeroed run's bound (`input_dependence`)."""
    model = pipeline.model(seed)
    cuda = pipeline.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(pipeline.device)
    recorder = StepLosses()
    started = time.perf_counter()
    try:
        real: dict[str, float] | None = {**pipeline.train(steps, seed, recorder=recorder, model=model).history[-1]}
    except TrainingDiverged:
        real = None
    seconds = (time.perf_counter() - started) / max(1, len(recorder.losses))
    start_loss = recorder.losses[0] if recorder.losses else math.nan
    cuda_peak = torch.cuda.max_memory_allocated(pipeline.device) / 2**20 if cuda else None
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    score = pipeline.task.score
    train_score, constant, bound = _fit_and_constant(pipeline, model, seed)
    decided = (
        real is not None
        and real["train/loss"] <= LOSS_DROP * start_loss
        and learns_from_inputs(real, bound, constant[1], score)
    )
    zeroed = bound if decided else _zeroed_run(pipeline, seed, steps)
    numeric = real is not None and pipeline.data.target_scale is not None
    predictions = validation_predictions(pipeline, model) if numeric else None
    return BudgetRuns(
        steps, start_loss, recorder.losses, real, zeroed, seconds, peak_rss, cuda_peak, score, train_score, constant,
        predictions,
    )  # fmt: skip


def _zeroed_run(pipeline: Pipeline, seed: int, steps: int) -> dict[str, float] | None:
    try:
        return {**pipeline.train(steps, seed, ZeroedInputs(pipeline.data)).history[-1]}
    except TrainingDiverged:
        return None  # some architectures blow up on all-zero inputs: the real run is what is checked


def _fit_and_constant(
    pipeline: Pipeline, model: nn.Module, seed: int
) -> tuple[float, tuple[float, float], ZeroedBound]:
    """(the model's score on the first epoch's training samples, in evaluation mode; the constant baseline's
    score on the training and the validation samples; the bound on a zeroed-input run)."""
    task, data = pipeline.task, pipeline.data
    model.eval()
    with torch.no_grad():
        pairs = [
            (model(x).float().cpu(), y.cpu()) for x, y in data.train_batches(pipeline.settings.batch_size, 1, seed)
        ]
    model.train()
    train_y = torch.cat([y for _, y in pairs])
    val_y = torch.cat([y.cpu() for _, y in data.val_batches(pipeline.settings.eval_batch_size)])
    constant = task.constant_outputs(data, train_y)
    scores = tuple(task.score_of(task.constant_batch(constant, y), y, data) for y in (train_y, val_y))
    train_score = task.score_of(torch.cat([outputs for outputs, _ in pairs]), train_y, data)
    return train_score, (scores[0], scores[1]), ZeroedBound(*task.zeroed_bound(val_y))


def _diverged(name: str, runs: BudgetRuns) -> CheckResult:
    return CheckResult(
        name, FAIL, f"training diverged at step {runs.diverged_at}", "a finite training run", "see loss stays finite"
    )


def finite_loss(runs: BudgetRuns) -> CheckResult:
    if runs.real is None:
        return CheckResult(
            "loss stays finite",
            FAIL,
            f"the loss became {runs.losses[-1]} at step {runs.diverged_at} of {runs.steps}",
            "finite at every step",
            "the loss blew up: a learning rate far too high for the loss's scale (e.g. reduction='sum' with a rate "
            "meant for the mean), a log or division of 0 in the model, or non-finite inputs",
            value=float(runs.diverged_at or 0),
        )
    return CheckResult(
        "loss stays finite",
        PASS,
        f"finite over {len(runs.losses)} steps (largest {max(runs.losses):.4g})",
        "finite at every step",
        value=0.0,
    )


def decreasing_loss(runs: BudgetRuns) -> CheckResult:
    """The loss halves within the budget, at its end or averaged over any `SMOOTHING` steps, as "planned run long
    enough" reads it (PASS); falls less but the model beats its input-free twin on validation (WARN: slow, not
    broken); otherwise FAIL."""
    name = "training loss decreases"
    if runs.real is None:
        return _diverged(name, runs)
    end = runs.real["train/loss"]
    halved = end <= LOSS_DROP * runs.start_loss or steps_to_halve(runs) is not None
    above = standard_errors_above(runs.real, runs.zeroed, runs.constant[1], runs.score)
    slow = end < runs.start_loss and above > SOME_EVIDENCE
    zeroed = "diverged" if runs.zeroed is None else "not needed"
    if isinstance(runs.zeroed, dict):
        zeroed = f"{runs.zeroed['train/loss']:.4f}"
    return CheckResult(
        name,
        PASS if halved else (WARN if slow else FAIL),
        f"{runs.start_loss:.4f} at init -> {end:.4f} after {runs.steps} steps (inputs zeroed: {zeroed})",
        f"<= {LOSS_DROP:.0%} of its start; less, while clearly beating the zeroed-input run, is slow (WARN)",
        "the model learns slowly: a higher learning rate (see the range test) or a longer budget"
        if slow and not halved
        else "the model does not learn: labels do not match inputs, the learning rate is far off, or the gradient "
        "does not reach the weights",
        value=end / runs.start_loss,
    )


def train_validation_agree(runs: BudgetRuns) -> CheckResult:
    """A model that clearly learned its training samples must do better than the constant baseline (the majority
    class, the mean) on validation: when it does not, the two sets do not pair inputs and labels alike."""
    name = "train and validation agree"
    if runs.real is None:
        return _diverged(name, runs)
    (train_constant, val_constant), score = runs.constant, runs.score
    val_score, margin = runs.real[score], 2 * runs.real[f"{score}_se"]
    learned = runs.train_score > train_constant + TRAIN_LEARNED
    return CheckResult(
        name,
        FAIL if learned and val_score <= val_constant + margin else PASS,
        f"{score} on training samples {runs.train_score:.4f} (constant baseline {train_constant:.4f}), validation "
        f"{val_score:.4f} (constant baseline {val_constant:.4f}) after {runs.steps} steps",
        f"validation > constant baseline + 2 SE once training is {TRAIN_LEARNED} above its own",
        "what is learned on the training set does not carry to validation: the validation labels are shifted or "
        "mapped otherwise, or the validation inputs are prepared differently (another normalisation, transform)",
        value=val_score - val_constant,
    )


def input_independent_baseline(runs: BudgetRuns) -> CheckResult:
    """The same budget with inputs zeroed must do clearly worse on validation than with the real inputs."""
    name = "input-independent baseline"
    if runs.real is None:
        return _diverged(name, runs)
    real, zeroed, score = runs.real, runs.zeroed, runs.score
    if zeroed is None:
        return CheckResult(name, NOT_APPLICABLE, "the zeroed-input run diverged", "a finite zeroed-input run")
    value, margin, with_zeros = zeroed_score(real, zeroed, score)
    above = standard_errors_above(real, zeroed, runs.constant[1], score)
    undecided = SOME_EVIDENCE < above <= SE_MARGIN
    return CheckResult(
        name,
        PASS if above > SE_MARGIN else (WARN if undecided else FAIL),
        f"{score} {real[score]:.4f} with inputs, {with_zeros} ({runs.steps} steps; {above:.1f} SE)",
        f"real - zeroed > {SE_MARGIN} SE ({margin:.4f}); above {SOME_EVIDENCE} SE, too few validation samples to "
        "decide (WARN)",
        f"{too_few_samples(runs)}: the difference is real evidence, but not enough to rule out chance"
        if undecided
        else "the model learns nothing from its inputs: it ignores them, or the labels are shuffled against them",
        value=real[score] - value,
    )


def too_few_samples(runs: BudgetRuns) -> str:
    """Why a check lacked the evidence to decide: the validation set's size, in the SE it gives the score."""
    assert runs.real is not None
    return (
        f"too few validation samples to decide ({runs.score} SE {runs.real[f'{runs.score}_se']:.3f}): more "
        "validation data or a longer budget"
    )


def dumb_baselines(pipeline: Pipeline, runs: BudgetRuns) -> CheckResult:
    """The task's dumb baselines (the constant prediction, a linear model) on the same split, beside the model
    after the budget, which must beat the constant one."""
    name = "dumb baselines"
    if runs.real is None:
        return _diverged(name, runs)
    train = baselines.stacked(pipeline.data.train_batches(pipeline.settings.batch_size, 1, 0))
    val = baselines.stacked(pipeline.data.val_batches(pipeline.settings.eval_batch_size))
    constant, *others = pipeline.task.baselines(train, val)
    score = runs.score
    value, margin = runs.real[score], 2 * runs.real[f"{score}_se"]
    named = "; ".join(f"{baseline.name} {baseline.score:.4f}" for baseline in (constant, *others))
    return CheckResult(
        name,
        verdict(value > constant.score + margin),
        f"{score}: model {value:.4f} after {runs.steps} steps; {named}",
        f"model > {constant.name} + 2 SE ({margin:.4f})",
        f"the model is no better than the dumb baseline ({constant.name})",
        value=value - constant.score,
    )


def step_cost(pipeline: Pipeline, runs: BudgetRuns) -> CheckResult:
    """What a step of the real run cost (its evaluations included) and the memory it peaked at, with the planned
    run's time at that rate: the figures behind a sweep's cost estimate."""
    planned = pipeline.planned_steps
    memory = f"peak memory {runs.peak_rss_mb:.0f} MB (process RSS)"
    if runs.cuda_peak_mb is not None:
        memory += f", CUDA {runs.cuda_peak_mb:.0f} MB allocated"
    return CheckResult(
        "step time and memory",
        PASS,
        f"{runs.seconds_per_step * 1000:.1f} ms per step at batch {pipeline.settings.batch_size}; {memory}; the "
        f"planned run's {planned} steps: ~{planned * runs.seconds_per_step:.0f} s",
        "measured, for the sweep's cost estimate",
        value=runs.seconds_per_step,
    )


def steps_to_halve(runs: BudgetRuns) -> int | None:
    """The first step at which the loss, averaged over the last `SMOOTHING` steps, was at most half its start."""
    losses = np.asarray(runs.losses, dtype=float)
    if len(losses) < SMOOTHING:
        return None
    averaged = np.convolve(losses, np.ones(SMOOTHING) / SMOOTHING, mode="valid")
    halved = np.flatnonzero(averaged <= LOSS_DROP * runs.start_loss)
    return int(halved[0]) + SMOOTHING if halved.size else None


def planned_budget(pipeline: Pipeline, runs: BudgetRuns) -> CheckResult:
    """A planned run shorter than what these checks needed to show learning will show little: a WARN."""
    planned, halved = pipeline.planned_steps, steps_to_halve(runs)
    needed = halved or runs.steps
    return CheckResult(
        "planned run long enough",
        PASS if planned >= needed else WARN,
        f"the planned run has {planned} optimiser steps; the checks' loss halved after {needed}"
        if halved
        else f"the planned run has {planned} optimiser steps; the checks trained {needed}",
        "at least as many steps as the checks needed",
        "the planned run is too short to learn what the checks learned: more epochs, a smaller batch or more data",
        value=float(planned),
    )
