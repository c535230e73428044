"""Optuna's study plots saved as PNG files for the sweep's parent run."""

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import optuna
from optuna.trial import TrialState
from optuna.visualization import matplotlib as optuna_plots

from sweepwise.sweep.driver.report_warmup import MIN_TRIALS_FOR_IMPORTANCE


def _save(plot: Callable[..., Any], study: optuna.Study, path: Path, **kwargs: object) -> Path | None:
    """Draw one plot; a plot that does not apply to this study (too few trials, no values) is skipped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            axes = plot(study, **kwargs)
        except (ValueError, RuntimeError, ZeroDivisionError):
            return None
    figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
    figure.set_size_inches(10, 6)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def save_study_plots(study: optuna.Study, folder: Path) -> list[Path]:
    """Optimisation history, parallel coordinates, parameter importances (with enough trials), intermediate
    values; the Pareto front instead of the history for several objectives."""
    folder.mkdir(parents=True, exist_ok=True)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return []
    several = len(study.directions) > 1
    plots: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []
    if several:
        plots.append(("pareto_front", optuna_plots.plot_pareto_front, {}))
        target = {"target": lambda trial: trial.values[0], "target_name": "objective 0"}
    else:
        plots.append(("optimization_history", optuna_plots.plot_optimization_history, {}))
        target = {}
    if study.best_trials and study.best_trials[0].params:
        plots.append(("parallel_coordinate", optuna_plots.plot_parallel_coordinate, target))
        if len(complete) >= MIN_TRIALS_FOR_IMPORTANCE:
            plots.append(("param_importances", optuna_plots.plot_param_importances, target))
    if any(trial.intermediate_values for trial in study.get_trials(deepcopy=False)):
        plots.append(("intermediate_values", optuna_plots.plot_intermediate_values, {}))
    saved = [_save(plot, study, folder / f"{name}.png", **kwargs) for name, plot, kwargs in plots]
    return [path for path in saved if path is not None]
