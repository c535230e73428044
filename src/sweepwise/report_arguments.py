"""What `Trial.report` accepts: an objective among its metrics, and a step above the last one reported.

Optuna keeps the first value a trial reports at a step and MLflow logs every one, so a step reported twice in one
training would leave the study's pruner and the run's chart on different values: it is refused instead.
"""

from collections.abc import Mapping


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


def next_step(last: int | None, step: int) -> int:
    """`step`, when it is above the `last` one this training reported (a resumed training starts afresh: what its
    run and study hold already is kept without a word)."""
    if last is not None and step <= last:
        raise ValueError(
            f"report(step={step}) after report(step={last}): each report's step must be above the last one's (the "
            "epoch or the optimiser step), or the study and the MLflow run would hold different values for it"
        )
    return step
