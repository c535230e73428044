"""The user's `custom_search_space`: imported and tried once on a throwaway trial before anything is written, then
asked on each trial, where an error of its own ends the sweep in one line instead of a traceback.

The try-out catches what a typo makes (a misspelt config key, a wrong call); what only a real study shows (a
parameter suggested with another distribution than earlier trials gave it) is caught on the trial: that trial is
recorded FAIL with the reason, and the sweep stops."""

from collections.abc import Callable, Mapping
from typing import Any, cast

import optuna
from omegaconf import DictConfig

from sweepwise.errors import ConfigError, first_line
from sweepwise.sweep.driver.dotted_paths import import_named
from sweepwise.sweep.driver.param_grammar import SearchSpace, suggest

KEY = "hydra.sweeper.custom_search_space"
CustomSpace = Callable[[DictConfig, optuna.Trial], Any]


def custom_search_space_function(path: str | None, config: DictConfig, space: SearchSpace) -> CustomSpace | None:
    """The function a dotted path names (a leading dot, as in hydra-optuna-sweeper's example, means "beside the
    script"), tried once with `config`, the job's config, on a trial of a study in memory that has drawn `space`'s
    parameters first, as each real trial has."""
    if not path:
        return None
    try:
        found = import_named(path.lstrip("."))
    except (ImportError, ValueError) as error:
        raise ConfigError(KEY, path, f"cannot be imported ({error})") from error
    if not callable(found):
        raise ConfigError(KEY, path, "is not a function")
    function = cast(CustomSpace, found)
    optuna.logging.disable_default_handler()  # the throwaway study's creation line is not the user's sweep
    try:
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    finally:
        optuna.logging.enable_default_handler()
    for name, distribution in space.distributions.items():
        suggest(trial, name, distribution)
    problem = custom_space_problem(function, config, trial, space.fixed)
    if problem:
        raise ConfigError(KEY, path, problem)
    return function


def custom_space_problem(
    function: CustomSpace, config: DictConfig, trial: optuna.Trial, fixed: Mapping[str, Any]
) -> str | None:
    """Ask `function` for `trial`'s parameters; why that gives no trial (it raised, or it suggests a key the
    overrides fix), or None."""
    try:
        function(config, trial)
    except Exception as error:  # the user's code: anything it raises is its own error, named in one line
        return f"raised {type(error).__name__}: {first_line(error)}"
    overlap = trial.params.keys() & fixed.keys()
    return f"suggests {sorted(overlap)}, which are fixed by overrides" if overlap else None
