"""The `optuna` Hydra sweeper: a thin plugin class; the work is in `sweepwise.sweep`, imported when a sweep runs."""

import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Sequence
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

import hydra_plugins.sweepwise_plugins.config  # noqa: F401  (registers the configs)

HYDRA_OPTUNA_SWEEPER = "hydra_plugins.hydra_optuna_sweeper"


class OptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        from sweepwise.sweep.driver.sweeper import Sweep

        self._impl = Sweep(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self._impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: Sequence[str]) -> Any:
        return self._impl.sweep(list(arguments))


class HydraOptunaSweeperName(OptunaSweeper):
    """sweepwise's sweeper under hydra-optuna-sweeper's class name, which configs written for that plugin give as
    `_target_: hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper` (lightning-hydra-template's do)."""


def answer_to_hydra_optuna_sweepers_name() -> None:
    """Where hydra-optuna-sweeper is not installed, make its class name lead here. Hydra takes a sweeper's class
    from the plugins it found, by module and name, then imports it again by that path: so the class carries that
    module and name (this module is scanned, so Hydra finds it), and the module path resolves to this class."""
    found = importlib.util.find_spec(HYDRA_OPTUNA_SWEEPER)
    if found is not None and found.loader is not None:
        return  # that plugin's own class answers to its name (a module made here has no loader: Hydra's scan
        # runs this module again, and the class made then takes over the name)
    module = types.ModuleType(f"{HYDRA_OPTUNA_SWEEPER}.optuna_sweeper")
    package = types.ModuleType(HYDRA_OPTUNA_SWEEPER)
    for made in (module, package):
        made.__spec__ = importlib.machinery.ModuleSpec(made.__name__, loader=None)
    HydraOptunaSweeperName.__module__ = module.__name__
    HydraOptunaSweeperName.__name__ = HydraOptunaSweeperName.__qualname__ = "OptunaSweeper"
    module.OptunaSweeper = HydraOptunaSweeperName  # type: ignore[attr-defined]  # a module made at run time
    package.optuna_sweeper = module  # type: ignore[attr-defined]
    sys.modules[package.__name__] = package
    sys.modules[module.__name__] = module


answer_to_hydra_optuna_sweepers_name()
