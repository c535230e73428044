"""The executor behind a Hydra launcher config: worker processes for `local` (and Hydra's `basic`), SLURM jobs
for `slurm`."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from hydra_plugins.sweepwise_plugins.config import SlurmLauncherConf
from sweepwise.configure import is_sweepwise_training
from sweepwise.errors import ConfigError
from sweepwise.internals.hydra_internals import BASIC_LAUNCHER
from sweepwise.sweep.launch.executor import Executor
from sweepwise.sweep.launch.gpu_placement import CPU_SLOTS, LocalSettings, Placement, place
from sweepwise.sweep.launch.slurm_executor import SlurmExecutor
from sweepwise.sweep.launch.slurm_requests import check_cluster, slurm_settings
from sweepwise.sweep.launch.worker_pool import WorkerPool
from sweepwise.sweep.trial.trial_runner import TrialRunner

# imported once by the server local workers are forked from (named, not imported: the sweep's own process needs
# no database store where it tracks to a server)
WORKER_IMPORTS = "sweepwise.sweep.trial.worker_imports"

LOCAL_LAUNCHERS = (BASIC_LAUNCHER, "LocalLauncher")
SLURM_LAUNCHER = "SlurmLauncher"


def launcher_settings(launcher: Mapping[str, Any], processes: int = 1) -> SlurmLauncherConf | LocalSettings:
    """Check the launcher config before anything runs: SLURM settings for `slurm` (and SLURM's word that it
    would run such jobs, each trial as `processes` tasks per node), placement settings for the local launchers."""
    target = str(launcher.get("_target_", ""))
    if target.endswith(LOCAL_LAUNCHERS):
        return LocalSettings.of(launcher, processes)
    if target.endswith(SLURM_LAUNCHER):
        settings = slurm_settings(launcher, processes)
        check_cluster(settings)
        return settings
    raise ConfigError("hydra/launcher", target, "sweepwise runs trials with the local or the slurm launcher")


def trial_processes(config: DictConfig) -> int:
    """The processes of each trial (sweepwise training's `trainer.devices`; 1 for any other task). A bad value
    is the trial's own error, reported by its checks."""
    if not is_sweepwise_training(config):
        return 1
    devices = OmegaConf.select(config, "trainer.devices", default=1)
    return devices if isinstance(devices, int) and not isinstance(devices, bool) and devices >= 1 else 1


def placement(settings: SlurmLauncherConf | LocalSettings, slots_key: str, slots: int | None) -> Placement:
    """How many jobs run at once (`slots`, named `slots_key` in errors; null: as the machine's GPUs allow) and,
    for local workers, the GPUs of each; SLURM places each job on its own node's GPUs (packs included)."""
    if isinstance(settings, LocalSettings):
        return place(settings, slots_key, slots)
    return Placement((None,) * (slots or CPU_SLOTS), trials_per_gpu=settings.trials_per_gpu)


def make_executor(
    settings: SlurmLauncherConf | LocalSettings, runner: TrialRunner, slots: Placement, folder: Path
) -> Executor:
    """Worker processes (one per slot, with its GPUs) for the local launchers, else SLURM jobs (their files under
    `folder` when a job has no folder of its own)."""
    if isinstance(settings, LocalSettings):
        return WorkerPool(runner, slots.size, slots.environments(), preload=[WORKER_IMPORTS])
    return SlurmExecutor(runner, settings, folder)
