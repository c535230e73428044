"""Which GPUs each local slot's trials see.

The visible GPUs are cut into disjoint groups of `gpus_per_trial`; each group holds `trials_per_gpu` slots at once.
A slot's worker process gets its group through `CUDA_VISIBLE_DEVICES` when it starts (CUDA reads it once per
process), so a trial sees only its own GPUs, as `cuda:0`, `cuda:1`, ...; the slot's next trial reuses them. Slots
are dealt round-robin over the groups, so that two slots on four GPUs take two GPUs, not one GPU twice.
"""

import itertools
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweepwise.errors import ConfigError
from sweepwise.spec.launch import is_gpu_id, local_launcher

GPU_ENV = "CUDA_VISIBLE_DEVICES"
CPU_SLOTS = 2  # the slots when neither n_jobs nor GPUs say how many
# what a packed trial needs beyond the tensors its training allocated: each process's CUDA context and kernels
# (~300-500 MB), and the caching allocator's slack over the peak it reports
CUDA_CONTEXT_MB = 500
ALLOCATOR_SLACK = 1.2


@dataclass(frozen=True)
class LocalSettings:
    """The `local` launcher's placement fields (Hydra's `basic` launcher has none: its defaults apply)."""

    n_workers: int | None = None
    gpus_per_trial: int | None = None
    trials_per_gpu: int = 1
    gpus: tuple[str, ...] | None = None
    processes: int = 1  # each trial's processes (`trainer.devices`): each needs a GPU of its own

    @classmethod
    def of(cls, launcher: Mapping[str, Any], processes: int = 1) -> "LocalSettings":
        conf = local_launcher(launcher)
        gpus = None if conf.gpus is None else tuple(conf.gpus)
        return cls(conf.n_workers, conf.gpus_per_trial, conf.trials_per_gpu, gpus, processes)


# what Linux shows of the drivers torch counts CUDA devices through: NVIDIA's, and ROCm's for AMD GPUs
GPU_DRIVERS = ("/proc/driver/nvidia/gpus", "/dev/kfd")


def visible_gpus(configured: Sequence[str] | None) -> list[str]:
    """The GPU ids trials may use: `hydra.launcher.gpus` when set, else those `CUDA_VISIBLE_DEVICES` lists, else
    every CUDA device torch counts. Ids need not be real: on a machine without CUDA the trials then run on the CPU,
    which is how placement is tested."""
    if configured is not None:
        return list(configured)
    listed = os.environ.get(GPU_ENV)
    if listed is not None:  # as CUDA reads it: the ids before the first that is not one (`-1` hides every GPU)
        ids = [gpu.strip() for gpu in listed.split(",")]
        return list(itertools.takewhile(is_gpu_id, ids))
    if sys.platform == "linux" and not any(Path(driver).exists() for driver in GPU_DRIVERS):
        return []  # no GPU driver: torch would count none, and importing it to learn that takes seconds
    import torch

    return [str(index) for index in range(torch.cuda.device_count())]


@dataclass(frozen=True)
class Placement:
    """Per slot, the GPU ids its worker sees (None: the machine's, untouched, as on a machine without GPUs)."""

    slots: tuple[tuple[str, ...] | None, ...]
    gpus_per_trial: int = 0
    trials_per_gpu: int = 1
    unused: str = ""  # a GPU setting that placing the trials on the CPU leaves without effect

    @property
    def size(self) -> int:
        return len(self.slots)

    def first(self, count: int) -> "Placement":
        """The first `count` slots (a multirun with fewer jobs than slots)."""
        return Placement(self.slots[:count], self.gpus_per_trial, self.trials_per_gpu)

    def environments(self) -> list[dict[str, str]]:
        return [{} if gpus is None else {GPU_ENV: ",".join(gpus)} for gpus in self.slots]

    def describe(self) -> str:
        """One line for the sweep's start, when there are GPUs to place trials on, or GPU settings that have no
        effect without them."""
        if not self.gpus_per_trial:
            return self.unused and f"placement: {self.size} trials at a time on the CPU; {self.unused}"
        used = sorted({gpu for gpus in self.slots if gpus for gpu in gpus}, key=_gpu_order)
        return (
            f"placement: {self.size} trials at a time on GPUs {','.join(used)} ({self.gpus_per_trial} GPU(s) per "
            f"trial, {self.trials_per_gpu} trial(s) per GPU)"
        )


def place(settings: LocalSettings, slots_key: str, slots: int | None) -> Placement:
    """Slots and their GPUs. `slots` (`n_jobs`, named `slots_key` in errors) null: as many as the GPUs hold, or
    `CPU_SLOTS` without GPUs; more slots than the GPUs hold is an error, as they would share GPUs unasked."""
    gpus = visible_gpus(settings.gpus)
    per_trial = settings.gpus_per_trial if settings.gpus_per_trial is not None else _default_per_trial(settings, gpus)
    if 0 < per_trial < settings.processes:
        raise ConfigError(
            "hydra.launcher.gpus_per_trial",
            per_trial,
            f"fewer GPUs than trainer.devices={settings.processes} processes per trial, each of which needs its own",
        )
    if per_trial == 0:
        # trials on the CPU: GPUs there are hidden from them, so that none is shared unasked
        hidden: tuple[str, ...] | None = () if gpus else None
        unused = ""
        if settings.trials_per_gpu > 1:
            why = "no GPU is visible" if not gpus else "gpus_per_trial=0"
            unused = f"hydra.launcher.trials_per_gpu={settings.trials_per_gpu} has no effect ({why})"
        return Placement((hidden,) * (slots or CPU_SLOTS), unused=unused)
    if per_trial > len(gpus):
        raise ConfigError(
            "hydra.launcher.gpus_per_trial", per_trial, f"more than the {len(gpus)} GPU(s) visible ({_listed(gpus)})"
        )
    groups = [tuple(gpus[start : start + per_trial]) for start in range(0, len(gpus) - per_trial + 1, per_trial)]
    capacity = len(groups) * settings.trials_per_gpu
    if slots is not None and slots > capacity:
        raise ConfigError(
            slots_key,
            slots,
            f"more trials at once than the {len(gpus)} GPU(s) hold: {len(groups)} group(s) of gpus_per_trial="
            f"{per_trial} x trials_per_gpu={settings.trials_per_gpu} = {capacity}",
        )
    count = slots if slots is not None else capacity
    return Placement(tuple(groups[slot % len(groups)] for slot in range(count)), per_trial, settings.trials_per_gpu)


def _default_per_trial(settings: LocalSettings, gpus: Sequence[str]) -> int:
    """A GPU for each of a trial's processes where there are GPUs, none where there are not."""
    if not gpus:
        return 0
    if settings.processes > len(gpus):
        raise ConfigError(
            "trainer.devices",
            settings.processes,
            f"more processes than the {len(gpus)} GPU(s) visible ({_listed(gpus)})",
        )
    return settings.processes


def _gpu_order(gpu: str) -> tuple[int, str]:
    return (int(gpu), "") if gpu.isdigit() else (1 << 30, gpu)


def _listed(gpus: Sequence[str]) -> str:
    return ",".join(gpus) if gpus else "none"


def check_packing(trials_per_gpu: int, peak_mb: float | None, gpu_mb: float | None) -> None:
    """Refuse `trials_per_gpu` trials on one GPU when their training, at the preflight's measured CUDA peak,
    would not fit in its memory. Nothing to check without a measured peak (a CPU, the preflight off) or a known
    GPU size (fake GPU ids)."""
    if trials_per_gpu <= 1 or peak_mb is None or gpu_mb is None:
        return
    each = peak_mb * ALLOCATOR_SLACK + CUDA_CONTEXT_MB
    if trials_per_gpu * each > gpu_mb:
        raise ConfigError(
            "hydra.launcher.trials_per_gpu",
            trials_per_gpu,
            f"{trials_per_gpu} trials x ~{each:.0f} MB each (the preflight's CUDA peak {peak_mb:.0f} MB x "
            f"{ALLOCATOR_SLACK} + {CUDA_CONTEXT_MB} MB of CUDA context) exceed the GPU's {gpu_mb:.0f} MB; "
            f"{int(gpu_mb // each)} fit",
        )


def gpu_memory_mb() -> float | None:
    """The first visible GPU's memory (trials are packed on GPUs alike), or None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    return float(torch.cuda.get_device_properties(0).total_memory) / 2**20
