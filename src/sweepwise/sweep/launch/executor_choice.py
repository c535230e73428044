"""The executor behind a Hydra launcher config: worker processes for `local` (and Hydra's `basic`), SLURM jobs
for `slurm` and `submitit_slurm`, submitit local jobs for `submitit_local` (hydra-submitit-launcher's configs,
whether that plugin or sweepwise provides them)."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from hydra_plugins.sweepwise_plugins.launcher_config import SUBMITIT_PLUGIN, SlurmLauncherConf, SubmititLocalConf
from sweepwise.configure import is_sweepwise_training
from sweepwise.spec.launch import unknown_fields
from sweepwise.sweep.launch.early_start import LOCAL_LAUNCHERS
from sweepwise.sweep.launch.executor import Executor
from sweepwise.sweep.launch.gpu_placement import CPU_SLOTS, LocalSettings, Placement, place
from sweepwise.sweep.launch.hydra_launcher_executor import HydraLauncherExecutor, OtherLauncher
from sweepwise.sweep.launch.slurm_executor import SlurmExecutor
from sweepwise.sweep.launch.slurm_requests import check_cluster, slurm_settings, trials_per_job
from sweepwise.sweep.launch.submitit_local_executor import SubmititLocalExecutor, SubmititLocalSettings
from sweepwise.sweep.launch.worker_pool import WorkerPool
from sweepwise.sweep.trial.trial_runner import TrialRunner

SLURM_LAUNCHERS = (
    "hydra_plugins.sweepwise_plugins.slurm_launcher.SlurmLauncher",
    "hydra_plugins.sweepwise_plugins.submitit_launchers.SubmititSlurmLauncher",
    f"{SUBMITIT_PLUGIN}.submitit_launcher.SlurmLauncher",
)
SUBMITIT_LOCAL_LAUNCHERS = (
    "hydra_plugins.sweepwise_plugins.submitit_launchers.SubmititLocalLauncher",
    f"{SUBMITIT_PLUGIN}.submitit_launcher.LocalLauncher",
)
Settings = SlurmLauncherConf | SubmititLocalSettings | LocalSettings | OtherLauncher


def launcher_settings(launcher: Mapping[str, Any], processes: int = 1) -> Settings:
    """Check the launcher config before anything runs: SLURM settings for `slurm` and `submitit_slurm` (and
    SLURM's word that it would run such jobs, each trial as `processes` tasks per node), submitit's for
    `submitit_local`, placement settings for the local launchers; any other launcher runs trials itself."""
    target = str(launcher.get("_target_", ""))
    if target in LOCAL_LAUNCHERS:
        return LocalSettings.of(launcher, processes)
    if target in SUBMITIT_LOCAL_LAUNCHERS:
        return SubmititLocalSettings.of(launcher, processes)
    if target in SLURM_LAUNCHERS:
        settings = slurm_settings(launcher, processes)
        check_cluster(settings)
        return settings
    return OtherLauncher.of(target)


def launcher_notes(settings: Settings, sweep: bool, launcher: Mapping[str, Any]) -> list[str]:
    """One line for each launcher field that is set and has no effect here (`launcher`: the config)."""
    conf = SubmititLocalConf if isinstance(settings, SubmititLocalSettings) else SlurmLauncherConf
    unknown = [] if isinstance(settings, LocalSettings | OtherLauncher) else unknown_fields(conf, launcher)
    return [f"hydra.launcher.{field} has no meaning for sweepwise: left aside" for field in unknown] + _unused(
        settings, sweep
    )


def _unused(settings: Settings, sweep: bool) -> list[str]:
    if isinstance(settings, OtherLauncher):
        return [
            f"trials run in batches of hydra.sweeper.n_jobs through {settings.target}, and each batch waits for its "
            "slowest trial: the local, slurm, submitit_local and submitit_slurm launchers start a trial as a slot frees"
        ]
    if isinstance(settings, SubmititLocalSettings):
        return [
            f"hydra.launcher.{field} has no effect: submitit local jobs share this machine" for field in settings.unused
        ]
    default = SlurmLauncherConf.array_parallelism  # submitit's
    if sweep and not isinstance(settings, LocalSettings) and settings.array_parallelism != default:
        return [
            f"hydra.launcher.array_parallelism={settings.array_parallelism} has no effect in a sweep: "
            "hydra.sweeper.n_jobs trials are in flight at once"
        ]
    return []


def describe(choice: str | None, settings: Settings) -> str:
    """The launcher that runs the trials, as the sweep's first line names it (the SLURM settings' class is
    told apart last: Hydra's plugin scan may load its module twice)."""
    if isinstance(settings, LocalSettings):
        kind = "trials in worker processes here"
    elif isinstance(settings, SubmititLocalSettings):
        kind = "each trial a submitit local job"
    elif isinstance(settings, OtherLauncher):
        kind = "trials in batches through its own launch()"
    else:
        kind = "each trial a SLURM job" if trials_per_job(settings) == 1 else "trials packed in SLURM jobs"
    return f"launcher {choice or 'basic'} ({kind})"


def trial_processes(config: DictConfig) -> int:
    """The processes of each trial (sweepwise training's `trainer.devices`; 1 for any other task). A bad value
    is the trial's own error, reported by its checks."""
    if not is_sweepwise_training(config):
        return 1
    devices = OmegaConf.select(config, "trainer.devices", default=1)
    return devices if isinstance(devices, int) and not isinstance(devices, bool) and devices >= 1 else 1


def placement(settings: Settings, slots_key: str, slots: int | None) -> Placement:
    """How many jobs run at once (`slots`, named `slots_key` in errors; null: as the machine's GPUs allow) and,
    for local workers and submitit local jobs, the GPUs of each; SLURM places each job on its own node's GPUs
    (packs included)."""
    if isinstance(settings, LocalSettings):
        return place(settings, slots_key, slots)
    if isinstance(settings, SubmititLocalSettings):
        return place(LocalSettings(gpus_per_trial=settings.gpus_per_node), slots_key, slots)
    if isinstance(settings, OtherLauncher):
        return Placement((None,) * (slots or CPU_SLOTS))
    return Placement((None,) * (slots or CPU_SLOTS), trials_per_gpu=settings.trials_per_gpu)


def make_executor(
    settings: Settings, runner: TrialRunner, slots: Placement, folder: Path, preload: Sequence[str]
) -> Executor:
    """Worker processes (one per slot, with its GPUs; forked from a server that imported `preload`) for the local
    launchers, submitit local jobs on the slots' GPUs, else SLURM jobs (their files under `folder` when a job has
    no folder of its own)."""
    if isinstance(settings, LocalSettings):
        return WorkerPool(runner, slots.size, slots.environments(), preload=preload)
    if isinstance(settings, SubmititLocalSettings):
        return SubmititLocalExecutor(runner, settings, slots, folder)
    if isinstance(settings, OtherLauncher):
        return HydraLauncherExecutor(runner, settings.target)
    return SlurmExecutor(runner, settings, folder)
