"""The sampler a sweep gets from its config: only the fields the config sets reach Optuna, the grid sampler ends
by the sweep's own count, and a sampler Optuna removed is named plainly before anything runs."""

import importlib.util
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from hydra.utils import instantiate
from optuna.samplers import BaseSampler, GridSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

# samplers of hydra-optuna-sweeper's configs that Optuna no longer has, and what to use instead
REMOVED_SAMPLERS = {
    "optuna.samplers.MOTPESampler": "the 'motpe' sampler was removed in Optuna 4.0: use hydra/sweeper/sampler=tpe "
    "instead (TPESampler now handles several objectives)",
}


# packages Optuna's samplers import only when they first sample: one that is missing would fail the first trial
SAMPLER_PACKAGES = {
    "optuna.samplers.CmaEsSampler": ("cmaes",),
    "optuna.samplers.GPSampler": ("scipy", "torch"),
    "optuna.samplers.QMCSampler": ("scipy",),
}


def unusable_sampler(target: str) -> str | None:
    """Why the sampler `target` names cannot run a sweep, if it cannot: Optuna removed it, or a package it imports
    when it first samples is not installed."""
    if target in REMOVED_SAMPLERS:
        return REMOVED_SAMPLERS[target]
    missing = [package for package in SAMPLER_PACKAGES.get(target, ()) if not _installed(package)]
    if missing:
        return f"needs {' and '.join(missing)}, which is not installed: pip install {' '.join(missing)}"
    return None


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except ImportError:  # a finder that refuses the package
        return False


def is_grid(sampler: Mapping[str, Any]) -> bool:
    return str(sampler.get("_target_", "")).endswith("GridSampler")


class SweepGridSampler(GridSampler):
    """Optuna's grid sampler without its `study.stop()` once every grid point has run: Optuna allows that call only
    inside `study.optimize`, and a sweep ends by its own count (`n_trials`, capped to the grid's size)."""

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        return None


def build_sampler(config: Mapping[str, Any], **supplied: Any) -> BaseSampler:
    """The sampler `config` describes (fields left null are not passed, so Optuna's defaults apply without its
    deprecation warnings), with what the sweep supplies (a seed past the study's trials, the grid)."""
    fields = {name: value for name, value in config.items() if value is not None}
    if is_grid(fields):
        fields["_target_"] = f"{__name__}.{SweepGridSampler.__name__}"
    with warnings.catch_warnings():
        # the user chose the sampler: Optuna's note that it is experimental (QMC) is not theirs to act on
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler: BaseSampler = instantiate(fields, **supplied)
    return sampler
