"""Checks that train: seeds, whole-set evaluation, the loss falling, baselines, overfitting one batch, and the
learning-rate schedule over the planned steps."""

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sweepwise.data.module import Batch
from sweepwise.figures import pyplot, save_figure
from sweepwise.recipe.pipeline import Pipeline, ZeroedInputs
from sweepwise.recipe.report import FAIL, PASS, CheckResult, verdict
from sweepwise.training.evaluate import evaluate
from sweepwise.training.loop import TrainState

SEED_STEPS = 20
LOSS_DROP = 0.5  # the training loss must fall below half its value at init within the budget
OVERFIT_LOSS = 0.05
NEAR_ZERO_LR = 0.01  # of the peak learning rate


def _losses(state: TrainState) -> list[float]:
    return [record["train/loss"] for record in state.history] + [state.history[-1]["val/loss"]]


def seed_reproducibility(pipeline: Pipeline, seed: int) -> CheckResult:
    """Two short runs with one seed give identical losses; another seed gives different ones."""
    steps = min(SEED_STEPS, pipeline.planned_steps)
    first, again, other = (_losses(pipeline.train(steps, s)) for s in (seed, seed, seed + 1))
    same = max(abs(a - b) for a, b in zip(first, again, strict=True))
    differs = max(abs(a - b) for a, b in zip(first, other, strict=True))
    return CheckResult(
        "seed reproducibility",
        verdict(same == 0.0 and differs > 0.0),
        f"same seed: max loss difference {same:.3g}; another seed: {differs:.3g}",
        "0 with the same seed, > 0 with another",
        "something random is not seeded (data order, augmentation, initialisation) or kernels are "
        "non-deterministic: runs cannot be compared or resumed exactly",
        value=same,
    )


def whole_set_evaluation(pipeline: Pipeline, seed: int) -> CheckResult:
    """Evaluation covers every validation sample once and reports the accuracy's standard error."""
    try:
        metrics = evaluate(pipeline.model(seed), pipeline.data, pipeline.settings.eval_batch_size, pipeline.autocast)
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
        f"{pipeline.data.num_val} samples, val/acc SE at init {metrics['val/acc_se']:.4f}",
        "count == validation set size; differences under 2 SE are ties",
        value=float(pipeline.data.num_val),
    )


def budget_runs(pipeline: Pipeline, seed: int, steps: int) -> tuple[dict[str, float], dict[str, float], float]:
    """(real-input run's final metrics, zeroed-input run's, training loss at the start) over `steps` steps."""
    model = pipeline.model(seed)
    inputs, labels = pipeline.first_batch(pipeline.settings.batch_size, seed)
    with torch.no_grad():
        start_loss = float(F.cross_entropy(model(inputs).float(), labels))
    real = pipeline.train(steps, seed)
    zeroed = pipeline.train(steps, seed, ZeroedInputs(pipeline.data))
    return {**real.history[-1]}, {**zeroed.history[-1]}, start_loss


def decreasing_loss(real: dict[str, float], start_loss: float, steps: int) -> CheckResult:
    end = real["train/loss"]
    return CheckResult(
        "training loss decreases",
        verdict(end <= LOSS_DROP * start_loss),
        f"{start_loss:.4f} at init -> {end:.4f} after {steps} steps",
        f"<= {LOSS_DROP:.0%} of its start",
        "the model does not learn: labels do not match inputs, the learning rate is far off, or the gradient "
        "does not reach the weights",
        value=end / start_loss,
    )


def _difference_se(first: dict[str, float], second: dict[str, float]) -> float:
    return math.sqrt(first["val/acc_se"] ** 2 + second["val/acc_se"] ** 2)


def input_independent_baseline(real: dict[str, float], zeroed: dict[str, float], steps: int) -> CheckResult:
    """The same budget with inputs zeroed must do clearly worse on validation than with the real inputs."""
    margin = 3 * _difference_se(real, zeroed)
    return CheckResult(
        "input-independent baseline",
        verdict(real["val/acc"] - zeroed["val/acc"] > margin),
        f"val/acc {real['val/acc']:.4f} with inputs, {zeroed['val/acc']:.4f} with zeros ({steps} steps)",
        f"real - zeroed > 3 SE ({margin:.4f})",
        "the model learns nothing from its inputs: it ignores them, or the labels are shuffled against them",
        value=real["val/acc"] - zeroed["val/acc"],
    )


def dumb_baselines(pipeline: Pipeline, real: dict[str, float], steps: int) -> CheckResult:
    """Majority class and a linear model on the same split, beside the model after the budget, which must beat
    the majority class."""
    train_x, train_y = _arrays(pipeline.data.train_batches(pipeline.settings.batch_size, 1, 0))
    val_x, val_y = _arrays(pipeline.data.val_batches(pipeline.settings.eval_batch_size))
    majority = float((val_y == np.bincount(train_y).argmax()).mean())
    linear = _linear_accuracy(train_x, train_y, val_x, val_y)
    margin = 2 * real["val/acc_se"]
    return CheckResult(
        "dumb baselines",
        verdict(real["val/acc"] > majority + margin),
        f"model {real['val/acc']:.4f} after {steps} steps; majority class {majority:.4f}; linear {linear:.4f}",
        f"model > majority class + 2 SE ({margin:.4f})",
        "the model is no better than always answering the most frequent class",
        value=real["val/acc"] - majority,
    )


def _arrays(batches: Iterable[Batch]) -> tuple[np.ndarray, np.ndarray]:
    inputs, labels = zip(*((x.float().flatten(1).cpu().numpy(), y.cpu().numpy()) for x, y in batches), strict=True)
    return np.concatenate(inputs), np.concatenate(labels)


def _linear_accuracy(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=300)
    model.fit(train_x, train_y)
    return float(model.score(val_x, val_y))


def overfit_one_batch(pipeline: Pipeline, seed: int, samples: int, max_steps: int) -> CheckResult:
    """A few samples, regularisation off, the configured optimiser at a constant learning rate: the loss must get
    near zero and every prediction right within `max_steps`."""
    model = pipeline.model(seed)
    optimizer = pipeline.optimizer(model)
    inputs, labels = pipeline.first_batch(samples, seed)
    model.train()
    loss, right, step = float("inf"), 0, 0
    for step in range(1, max_steps + 1):  # noqa: B007 (the step count is reported)
        with pipeline.autocast():
            logits = model(inputs)
        loss_tensor = F.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss_tensor.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        optimizer.step()
        loss, right = float(loss_tensor.detach()), int((logits.argmax(dim=1) == labels).sum())
        if loss < OVERFIT_LOSS and right == len(labels):
            break
    return CheckResult(
        "overfit one batch",
        verdict(loss < OVERFIT_LOSS and right == len(labels)),
        f"loss {loss:.4f}, {right}/{len(labels)} right after {step} steps",
        f"loss < {OVERFIT_LOSS} and all right within {max_steps} steps",
        "the model cannot even memorise a few samples: the loss is misapplied (e.g. softmax before a loss that "
        "expects logits), the model is too constrained, or the learning rate is off",
        value=loss,
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
