"""The local workers' fork server, started the moment the sweep's own process has its config: the server's
imports (MLflow, Hydra, the trial runner, and torch where the task trains with it: seconds of CPU) then run on another
core while the sweep's process imports its own and plans, instead of after them, where a small sweep's first trial
waited for both."""

import sys
from collections.abc import Sequence

from omegaconf import DictConfig, OmegaConf

from sweepwise.configure import is_sweepwise_training
from sweepwise.internals.hydra_internals import BASIC_LAUNCHER
from sweepwise.sweep.launch.worker_pool import start_context

# imported once by the server local workers are forked from (named, not imported: the sweep's own process needs
# no database store where it tracks to a server)
WORKER_IMPORTS = "sweepwise.sweep.trial.worker_imports"
TORCH_IMPORTS = "sweepwise.sweep.trial.torch_imports"
LOCAL_LAUNCHERS = (BASIC_LAUNCHER, "hydra_plugins.sweepwise_plugins.local_launcher.LocalLauncher")


def worker_preload(config: DictConfig) -> Sequence[str]:
    """What the workers' server imports for a sweep of `config`'s task: torch too where the task trains with it,
    sweepwise's own training or a script that imported torch already (a toy function's workers stay without)."""
    trains_with_torch = "torch" in sys.modules or is_sweepwise_training(config)
    return [WORKER_IMPORTS, TORCH_IMPORTS] if trains_with_torch else [WORKER_IMPORTS]


def start_worker_server(config: DictConfig) -> None:
    """Start the fork server now where the launcher's trials run in local workers; their pool finds it running."""
    if OmegaConf.select(config, "hydra.launcher._target_", default="") in LOCAL_LAUNCHERS:
        start_context(worker_preload(config))
