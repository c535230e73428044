"""The `local` Hydra launcher: jobs run in persistent worker processes; the work is in `sweepwise.sweep`."""

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

import hydra_plugins.sweepwise_plugins.config  # noqa: F401  (registers the configs)


class ExecutorLauncher(Launcher):
    """A launcher whose jobs run on a sweepwise executor, chosen from the `hydra.launcher` config."""

    def __init__(self, **settings: Any) -> None:
        from sweepwise.sweep.driver.multirun import MultirunLauncher

        self._impl = MultirunLauncher()

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self._impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        return self._impl.launch(job_overrides, initial_job_idx)


class LocalLauncher(ExecutorLauncher):
    """Jobs in `n_workers` persistent worker processes on this machine."""
