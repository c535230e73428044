"""The `optuna` Hydra sweeper: a thin plugin class; the work is in `sweepwise.sweep`, imported when a sweep runs."""

from collections.abc import Sequence
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

import hydra_plugins.sweepwise_plugins.config  # noqa: F401  (registers the configs)


class OptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        try:  # seconds of imports (MLflow), in which a Ctrl-C would end in a traceback of the import machinery
            from sweepwise.sweep.driver.sweeper import Sweep
        except KeyboardInterrupt:
            print("sweep interrupted before it started: nothing was written")
            raise SystemExit(130) from None
        self._impl = Sweep(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self._impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: Sequence[str]) -> Any:
        return self._impl.sweep(list(arguments))
