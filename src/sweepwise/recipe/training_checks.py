"""Checks of the run's machinery: seeds, whole-set evaluation, and the learning-rate schedule over the planned
steps."""

from pathlib import Path

import numpy as np

from sweepwise.figures import pyplot, save_figure
from sweepwise.recipe.pipeline import Pipeline
from sweepwise.recipe.report import FAIL, PASS, CheckResult, verdict

SEED_STEPS = 20
NEAR_ZERO_LR = 0.01  # of the peak learning rate


def seed_reproducibility(pipeline: Pipeline, seed: int, reference: list[float] | None = None) -> CheckResult:
    """The first steps trained twice with one seed give identical losses (the first time is `reference`, the
    budget run's losses, when it has enough); another seed gives different ones: its first step's loss, or when
    that one is the same, its first steps'."""
    steps = min(SEED_STEPS, pipeline.planned_steps)
    if reference is None or len(reference) < steps:  # the budget run crashed or diverged early
        reference = pipeline.step_losses(steps, seed)
    first = reference[:steps]
    again = pipeline.step_losses(steps, seed)
    other = pipeline.step_losses(1, seed + 1)
    if other[0] == first[0]:
        other = pipeline.step_losses(steps, seed + 1)
    same = max(abs(a - b) for a, b in zip(first, again, strict=True))
    differs = max(abs(a - b) for a, b in zip(first, other, strict=False))
    return CheckResult(
        "seed reproducibility",
        verdict(same == 0.0 and differs > 0.0),
        f"same seed: max loss difference {same:.3g} over {steps} steps; another seed: {differs:.3g} over {len(other)}",
        "0 with the same seed, > 0 with another",
        "something random is not seeded (data order, augmentation, initialisation) or kernels are "
        "non-deterministic: runs cannot be compared or resumed exactly",
        value=same,
    )


def whole_set_evaluation(pipeline: Pipeline, seed: int) -> CheckResult:
    """Evaluation covers every validation sample once and reports the task's score with its standard error."""
    task = pipeline.task
    try:
        metrics = task.evaluate(
            pipeline.model(seed), pipeline.data, pipeline.settings.eval_batch_size, pipeline.autocast
        )
    except RuntimeError as error:
        return CheckResult(
            "whole-set evaluation",
            FAIL,
            str(error),
            f"all {pipeline.data.num_val} validation samples",
            "the validation loader drops or repeats samples (e.g. drop_last): metrics are not comparable",
        )
    return CheckResult(
        "whole-set evaluation",
        PASS,
        f"{pipeline.data.num_val} samples, {task.score} SE at init {metrics[f'{task.score}_se']:.4f}",
        "count == validation set size; differences under 2 SE are ties",
        value=float(pipeline.data.num_val),
    )


def schedule_over_planned_steps(pipeline: Pipeline, folder: Path) -> tuple[CheckResult, Path]:
    """Simulate the learning rate over the run's planned steps; it must not reach ~0 before half-way."""
    from sweepwise import configure

    schedule = configure.build(pipeline.cfg.schedule, "schedule")
    total = pipeline.planned_steps
    multipliers = np.array([schedule(step / total) for step in range(total)])
    peak = float(multipliers.max()) or 1.0
    warmup = float(getattr(schedule, "warmup_fraction", 0.0))
    fractions = np.arange(total) / total
    too_low = np.flatnonzero((fractions < 0.5) & (fractions >= warmup) & (multipliers < NEAR_ZERO_LR * peak))
    first = float(fractions[too_low[0]]) if too_low.size else None
    path = _plot_schedule(multipliers * float(pipeline.cfg.optimizer.lr), total, folder)
    result = CheckResult(
        "learning-rate schedule",
        verdict(first is None),
        f"reaches < {NEAR_ZERO_LR:.0%} of its peak at {first:.1%} of {total} steps"
        if first is not None
        else f"above {NEAR_ZERO_LR:.0%} of its peak until half of {total} steps",
        "not ~0 before half-way",
        "the learning rate decays to ~0 early: the schedule is defined on the wrong unit (epochs instead of "
        "steps) or its milestones are off, and most of the training budget is wasted",
        value=first if first is not None else 1.0,
    )
    return result, path


def _plot_schedule(learning_rates: np.ndarray, total: int, folder: Path) -> Path:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.plot(np.arange(total), learning_rates)
    axis.axvline(total / 2, color="gray", linestyle=":", label="half-way")
    axis.set_xlabel("optimiser step")
    axis.set_ylabel("learning rate")
    axis.set_title(f"learning rate over the {total} planned steps")
    axis.legend()
    return save_figure(figure, folder / "learning_rate_schedule.png")
