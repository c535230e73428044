"""The `optuna` Hydra sweeper: a thin plugin class; the work is in `sweepwise.sweep`, imported when a sweep runs."""

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

import hydra_plugins.sweepwise_plugins.config  # noqa: F401  (registers the configs)

OLD_OPTUNA = (
    "sweepwise needs Optuna 4 or later; the likely cause is an old hydra-optuna-sweeper in the requirements (its "
    "1.2.0 requires optuna<3, and pip downgrades Optuna for it): pip uninstall hydra-optuna-sweeper && pip install "
    "'optuna>=4'"
)


def check_optuna() -> None:
    """Stop in one line where an Optuna below 4 is installed, before sweepwise's imports of Optuna 4's storages
    would end in an ImportError."""
    try:
        installed = version("optuna")
    except PackageNotFoundError:
        return  # the import that follows names what is missing
    major = installed.split(".")[0]
    if major.isdigit() and int(major) < 4:
        raise SystemExit(f"error: Optuna {installed} is installed: {OLD_OPTUNA}")


class OptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        check_optuna()
        self._settings = settings

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        try:  # seconds of imports (MLflow), in which a Ctrl-C would end in a traceback of the import machinery
            from sweepwise.sweep.launch.early_start import start_worker_server

            # the local workers' server imports what they need on another core while this process imports
            start_worker_server(config)
            from sweepwise.sweep.driver.sweeper import Sweep
        except KeyboardInterrupt:
            from sweepwise.internals.multiprocessing_internals import stop_fork_server

            stop_fork_server()  # the server started above, mid-import: the exit would wait for it otherwise
            print("sweep interrupted before it started: nothing was written")
            raise SystemExit(130) from None
        self._impl = Sweep(**self._settings)
        self._impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: Sequence[str]) -> Any:
        return self._impl.sweep(list(arguments))
