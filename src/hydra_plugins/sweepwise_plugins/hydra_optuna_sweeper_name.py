"""hydra-optuna-sweeper's class name answered by sweepwise's sweeper, where that plugin is not installed.

Configs written for that plugin (lightning-hydra-template's `hparams_search` ones) give
`_target_: hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper` beside `override hydra/sweeper: optuna`,
and Hydra looks a sweeper's class up by that name among the plugins it has found. Hydra asks every search-path
plugin for its config paths after it has found its plugins and before it makes the sweeper: that is where the name
is added, for sweepwise's own class. No class is made under the other plugin's name (one would travel, pickled,
with every trial job, and fail to load where that module does not exist).
"""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from hydra_plugins.sweepwise_plugins.optuna_sweeper import OptunaSweeper
from sweepwise.internals.hydra_internals import answer_to_plugin_name

HYDRA_OPTUNA_SWEEPER = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"


class HydraOptunaSweeperName(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        """Adds no config path: this is the hook Hydra calls between finding its plugins and making the sweeper."""
        answer_to_plugin_name(HYDRA_OPTUNA_SWEEPER, OptunaSweeper)
