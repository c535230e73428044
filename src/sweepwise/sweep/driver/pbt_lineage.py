"""The lineage figure of a population-based training sweep, for its parent run: each member's objective over its
steps, its line broken wherever it went on from another member's checkpoint: the line goes on from that member's
value at the step of the copy (a dotted drop marks the jump), so each branch shows whose work it carries on."""

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import optuna

from sweepwise.study.records import PBT_CHECKPOINT_ATTR, PBT_PARENT_ATTR
from sweepwise.study.trials import first_of_its_work
from sweepwise.sweep.driver.population import members
from sweepwise.sweep.driver.rungs import value_at


def save_lineage_figure(study: optuna.Study, path: Path) -> Path | None:
    """The figure at `path` (None: no member reported a value)."""
    trials = study.get_trials(deepcopy=False)
    latest = members(trials)
    if not any(trial.intermediate_values for trial in latest.values()):
        return None
    copies: dict[int, dict[int, float]] = {member: {} for member in latest}  # member: {step of a copy: its value}
    for trial in trials:
        if PBT_PARENT_ATTR in trial.user_attrs:
            step = int(trial.user_attrs[PBT_CHECKPOINT_ATTR]["step"])
            value = value_at(latest[int(trial.user_attrs[PBT_PARENT_ATTR])], step)
            if value is not None:
                copies[first_of_its_work(trial, trials)][step] = value
    figure, axes = plt.subplots(figsize=(10, 6))
    for index, (member, trial) in enumerate(sorted(latest.items())):
        color = f"C{index % 10}"
        for number, segment in enumerate(segments(trial.intermediate_values, copies[member])):
            steps, values = zip(*segment, strict=True)
            axes.plot(steps, values, marker=".", color=color, label=None if number else f"trial {member}")
        for step, value in copies[member].items():
            if step in trial.intermediate_values:
                axes.plot([step, step], [trial.intermediate_values[step], value], linestyle=":", color=color)
    axes.set_xlabel("step")
    axes.set_ylabel("objective")
    axes.set_title("population-based training: a broken line goes on from another member's checkpoint")
    axes.legend(fontsize="small", ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def segments(values: Mapping[int, float], copies: Mapping[int, float]) -> list[list[tuple[int, float]]]:
    """A member's (step, value) points as lines: a new one starts at each copy, from the copied member's value."""
    lines: list[list[tuple[int, float]]] = [[]]
    for step in sorted(values):
        lines[-1].append((step, values[step]))
        if step in copies:
            lines.append([(step, copies[step])])
    return [line for line in lines if len(line) > 1 or line is lines[0]]
