"""The executor behind a Hydra launcher config: worker processes for `local` (and Hydra's `basic`), SLURM jobs
for `slurm`."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra_plugins.sweepwise_plugins.config import SlurmLauncherConf
from sweepwise.errors import ConfigError
from sweepwise.sweep.launch.executor import Executor
from sweepwise.sweep.launch.pool import WorkerPool
from sweepwise.sweep.launch.slurm import SlurmExecutor, check_cluster, slurm_settings
from sweepwise.sweep.trial.runner import TrialRunner

LOCAL_LAUNCHERS = ("hydra._internal.core_plugins.basic_launcher.BasicLauncher", "LocalLauncher")
SLURM_LAUNCHER = "SlurmLauncher"


def launcher_settings(launcher: Mapping[str, Any]) -> SlurmLauncherConf | None:
    """Check the launcher config before anything runs: SLURM settings for `slurm` (and SLURM's word that it
    would run such jobs), None for the local launchers."""
    target = str(launcher.get("_target_", ""))
    if target.endswith(LOCAL_LAUNCHERS):
        return None
    if target.endswith(SLURM_LAUNCHER):
        settings = slurm_settings(launcher)
        check_cluster(settings)
        return settings
    raise ConfigError("hydra/launcher", target, "sweepwise runs trials with the local or the slurm launcher")


def make_executor(settings: SlurmLauncherConf | None, runner: TrialRunner, slots: int, folder: Path) -> Executor:
    """Worker processes (`slots` of them) when `settings` is None, else SLURM jobs (their files under `folder`
    when a job has no folder of its own)."""
    if settings is None:
        return WorkerPool(runner, slots)
    return SlurmExecutor(runner, settings, folder)
