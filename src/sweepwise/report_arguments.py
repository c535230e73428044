"""What `Trial.report` accepts: an objective among its metrics, and a step above the last one reported.

Optuna keeps the first value a trial reports at a step and MLflow logs every one, so a step reported twice in one
training would leave the study's pruner and the run's chart on different values: it is refused instead.
"""

import contextlib
import operator
from collections.abc import Mapping
from typing import Any


def objective_name(metrics: Mapping[str, float], objective: str | None, needed: bool) -> str | None:
    """The metric reported to the study: `objective`, else the one metric; a sweep that prunes needs one."""
    if objective is not None:
        if objective not in metrics:
            raise ValueError(f"report(objective={objective!r}) is not among the metrics {sorted(metrics)}")
        return objective
    if len(metrics) == 1:
        return next(iter(metrics))
    if needed:
        raise ValueError(f"report() got metrics {sorted(metrics)}: name the one the sweep optimises, objective=...")
    return None


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Each metric as one number (a Python, NumPy or one-element torch number); anything else named in one line."""
    values: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, str | bytes):  # float() reads a string's digits: text is no metric
            raise _not_one_number(key, value, type(value).__name__)
        try:
            values[key] = float(value)
        except (TypeError, ValueError) as error:
            raise _not_one_number(key, value, str(error)) from None
    return values


def one_number_each(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics as given, each checked to be one number without reading it: a GPU tensor read at every step
    would stall training, so `log` holds them as they are until its batched write."""
    for key, value in metrics.items():
        size = getattr(value, "numel", None)
        count = size() if callable(size) else getattr(value, "size", 1)
        if isinstance(value, str | bytes) or count != 1 or not hasattr(value, "__float__"):
            raise _not_one_number(key, value, f"{count} values" if count != 1 else type(value).__name__)
    return dict(metrics)


def _not_one_number(key: str, value: Any, why: str) -> ValueError:
    shown = repr(value) if len(repr(value)) <= 60 else f"{repr(value)[:57]}..."
    return ValueError(f"metric {key!r} is not one number: {shown} ({why})")


def whole_step(step: Any) -> int:
    """`step` as a whole number (a NumPy or torch integer, or a float such as 2.0, too); a fraction (a validation
    every half epoch at 0.5, 1.0, 1.5) is refused: MLflow and Optuna keep whole steps, and cutting it would merge
    two reports into one."""
    if not isinstance(step, bool):
        with contextlib.suppress(TypeError):
            return operator.index(step)
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            if hasattr(type(step), "__float__") and float(step).is_integer():  # not a string's digits
                return int(float(step))
    raise ValueError(
        f"step={step!r} is not a whole number: report steps count epochs or optimiser steps (for a validation every "
        "half epoch, count half epochs)"
    )


def next_step(last: int | None, step: int) -> int:
    """`step`, when it is above the `last` one this training reported (a resumed training starts afresh: what its
    run and study hold already is kept without a word)."""
    if last is not None and step <= last:
        raise ValueError(
            f"report(step={step}) after report(step={last}): each report's step must be above the last one's (the "
            "epoch or the optimiser step), or the study and the MLflow run would hold different values for it"
        )
    return step
