"""The value checks of the sweeper's and launchers' fields, on the plugins' own config dataclasses.

Hydra checks each field's type against `hydra_plugins.sweepwise_plugins.config` when it composes; what a type
cannot say (a count of at least one, a GPU id CUDA reads, a time limit longer than its signal delay) is checked
here, once, into the same dataclass the sweep then reads.
"""

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from hydra_plugins.sweepwise_plugins.launcher_config import LocalLauncherConf, SlurmLauncherConf, SubmititLocalConf
from sweepwise.errors import ConfigError

SLURM_MINIMUMS = {
    "gpus_per_node": 0,
    "cpus_per_task": 1,
    "timeout_min": 1,
    "nodes": 1,
    "tasks_per_node": 1,
    "cpus_per_gpu": 1,
    "gpus_per_task": 1,
    "array_parallelism": 1,
    "trials_per_gpu": 1,
    "max_num_timeout": 0,
    "signal_delay_s": 0,
}


def known_fields(conf: type, config: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `config` that `conf` has: a newer hydra-submitit-launcher's config may hold fields sweepwise
    does not know (`unknown_fields` names them, for a line that says they are left aside)."""
    return {key: value for key, value in config.items() if key in _names(conf)}


def unknown_fields(conf: type, config: Mapping[str, Any]) -> list[str]:
    return [f"{key}={value}" for key, value in config.items() if key not in _names(conf)]


def _names(conf: type) -> set[str]:
    return {field.name for field in fields(conf)}


def bounded(key: str, value: Any, low: float, high: float | None = None, integer: bool = True) -> Any:
    """`value` when it is an integer (or a number) from `low` (to `high`); else the error names `key`."""
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(key, value, f"must be {'an integer' if integer else 'a number'} {bounds}")
    return value


def is_gpu_id(gpu: str) -> bool:
    """What `CUDA_VISIBLE_DEVICES` takes for one GPU: an index or a UUID. CUDA ignores anything else, and a trial
    given it would quietly train on the CPU."""
    return gpu.isdigit() or gpu.startswith(("GPU-", "MIG-"))


def local_launcher(launcher: Mapping[str, Any]) -> LocalLauncherConf:
    """The `local` launcher's fields, checked (Hydra's `basic` launcher has none: the defaults apply)."""
    names = [field.name for field in fields(LocalLauncherConf) if field.name != "_target_"]
    conf = LocalLauncherConf(**{name: launcher[name] for name in names if name in launcher})
    for key, low in (("n_workers", 1), ("gpus_per_trial", 0), ("trials_per_gpu", 1)):
        if getattr(conf, key) is not None:
            bounded(f"hydra.launcher.{key}", getattr(conf, key), low)
    if conf.gpus is not None:
        gpus = [str(gpu) for gpu in conf.gpus]
        if len(set(gpus)) != len(gpus):
            raise ConfigError("hydra.launcher.gpus", gpus, "lists a GPU twice")
        named = [gpu for gpu in gpus if not is_gpu_id(gpu)]
        if named:
            raise ConfigError(
                "hydra.launcher.gpus",
                gpus,
                f"{named[0]!r} is not a GPU: give indexes (0, 1, ...) or UUIDs (GPU-..., MIG-...) as nvidia-smi -L "
                "lists them",
            )
        conf.gpus = gpus
    return conf


def slurm_launcher(config: Mapping[str, Any], processes: int = 1) -> SlurmLauncherConf:
    """The fields of the `slurm` launcher (or of a `submitit_slurm` config: the same fields, whichever plugin's
    `_target_` it names), checked; a trial of `processes` processes (`trainer.devices`) cannot be packed with
    others."""
    settings = SlurmLauncherConf(**known_fields(SlurmLauncherConf, config))
    for key, minimum in SLURM_MINIMUMS.items():
        value = getattr(settings, key)
        if value is not None and value < minimum:
            raise ConfigError(f"hydra.launcher.{key}", value, f"must be at least {minimum}")
    if (settings.tasks_per_node or 1) > 1:
        raise ConfigError(
            "hydra.launcher.tasks_per_node",
            settings.tasks_per_node,
            "a trial's processes per node are trainer.devices (set it instead: the tasks follow it)",
        )
    if settings.gres is not None:
        gres_gpus(settings.gres)  # a count that is no number stops here, named
    if settings.trials_per_gpu > 1 and processes > 1:
        raise ConfigError(
            "hydra.launcher.trials_per_gpu",
            settings.trials_per_gpu,
            f"packs one-process trials, and trainer.devices={processes} gives each trial {processes} processes",
        )
    if settings.trials_per_gpu > 1 and settings.nodes > 1:
        raise ConfigError(
            "hydra.launcher.trials_per_gpu",
            settings.trials_per_gpu,
            f"packs trials on one node, not nodes={settings.nodes}",
        )
    if settings.mem_gb is not None and settings.mem_gb <= 0:
        raise ConfigError("hydra.launcher.mem_gb", settings.mem_gb, "must be positive (or null for the default)")
    if settings.poll_interval_s <= 0:
        raise ConfigError("hydra.launcher.poll_interval_s", settings.poll_interval_s, "must be positive")
    if settings.signal_delay_s >= settings.timeout_min * 60:
        raise ConfigError(
            "hydra.launcher.signal_delay_s",
            settings.signal_delay_s,
            f"must be shorter than the time limit (timeout_min={settings.timeout_min} minutes), or jobs are "
            "signalled to checkpoint as soon as they start",
        )
    return settings


def submitit_local(config: Mapping[str, Any], processes: int = 1) -> SubmititLocalConf:
    """The fields of a `submitit_local` config, checked: a local job is one task on this machine, with its GPUs
    for a sweepwise training's `processes` (`trainer.devices`)."""
    settings = SubmititLocalConf(**known_fields(SubmititLocalConf, config))
    bounded("hydra.launcher.timeout_min", settings.timeout_min, 1)
    if settings.gpus_per_node is not None:
        bounded("hydra.launcher.gpus_per_node", settings.gpus_per_node, 0)
    if settings.nodes != 1:
        raise ConfigError("hydra.launcher.nodes", settings.nodes, "a submitit local job runs on this machine: 1")
    if (settings.tasks_per_node or 1) > 1:
        raise ConfigError(
            "hydra.launcher.tasks_per_node",
            settings.tasks_per_node,
            "a trial's processes are trainer.devices (set it instead: the GPUs follow it)",
        )
    if processes > 1 and (settings.gpus_per_node or 0) < processes:
        raise ConfigError(
            "hydra.launcher.gpus_per_node",
            settings.gpus_per_node,
            f"fewer GPUs than trainer.devices={processes} processes per trial, each of which needs its own",
        )
    return settings


def gres_gpus(gres: str) -> int:
    """The GPUs per node a `gres` string asks for (`gpu:2`, `gpu:a100:2`, `gpu` and `gpu:a100`: 1, `gpu:1,nvme:1`),
    0 for none."""
    for resource in gres.split(","):
        kind, *rest = resource.strip().split(":")
        if kind != "gpu":
            continue
        if not rest or (len(rest) == 1 and not rest[0].isdigit()):
            return 1
        if not rest[-1].isdigit():
            raise ConfigError("hydra.launcher.gres", gres, f"{rest[-1]!r} is not a count of GPUs (gpu[:type]:count)")
        return int(rest[-1])
    return 0
