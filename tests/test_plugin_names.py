"""Configs written for hydra-optuna-sweeper name its sweeper class as their `_target_`; where that plugin is not
installed, the name leads to sweepwise's sweeper, by Hydra's own plugin lookup and import path alike."""

import importlib.util

import pytest
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.utils import get_class

from hydra_plugins.sweepwise_plugins.optuna_sweeper import HYDRA_OPTUNA_SWEEPER, OptunaSweeper

THEIR_CLASS = f"{HYDRA_OPTUNA_SWEEPER}.optuna_sweeper.OptunaSweeper"


def test_hydra_optuna_sweepers_class_name_is_sweepwises_sweeper_where_that_plugin_is_absent():
    spec = importlib.util.find_spec(HYDRA_OPTUNA_SWEEPER)
    if spec is not None and spec.loader is not None:
        pytest.skip("hydra-optuna-sweeper is installed here: its own class answers to its name")
    assert is_sweepwises(get_class(THEIR_CLASS))  # as `instantiate` imports it
    found = [plugin for plugin in Plugins.instance().discover(Sweeper) if plugin.__module__ in THEIR_CLASS]
    assert found and all(is_sweepwises(plugin) for plugin in found)  # as Hydra's plugin scan finds it


def is_sweepwises(sweeper: type) -> bool:
    """By name: Hydra's plugin scan runs each plugin module again, making its classes anew."""
    ours = f"{OptunaSweeper.__module__}.{OptunaSweeper.__qualname__}"
    return any(f"{base.__module__}.{base.__qualname__}" == ours for base in sweeper.__mro__)
