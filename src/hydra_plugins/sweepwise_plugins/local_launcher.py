"""The `local` Hydra launcher: jobs run in persistent worker processes; the work is in `sweepwise.sweep`."""

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

import hydra_plugins.sweepwise_plugins.config  # noqa: F401  (registers the configs)


class LocalLauncher(Launcher):
    def __init__(self, **settings: Any) -> None:
        from sweepwise.sweep.launcher_impl import LocalLauncherImpl

        self._impl = LocalLauncherImpl(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self._impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        return self._impl.launch(job_overrides, initial_job_idx)
