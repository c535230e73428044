"""Device choice, mixed precision and seeding."""

import contextlib
import os
import random
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from typing import Any

import numpy as np
import torch

from sweepwise.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA, then Apple's MPS, then the CPU; an explicit device must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError("trainer.device", name, "not a device name (auto, cpu, cuda, cuda:N, mps)") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device", name, "CUDA is not available on this machine")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("trainer.device", name, "MPS is not available on this machine")
    return device


def device_tags(device: torch.device, processes: int = 1) -> dict[str, str]:
    """What a run ran on: its (rank 0's) torch device, its processes, and, where a launcher placed it, the GPU ids
    it was given."""
    tags = {"sweepwise.device": str(device), "sweepwise.processes": str(processes)}
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        tags["sweepwise.gpus"] = os.environ["CUDA_VISIBLE_DEVICES"] or "none"
    return tags


def autocast_for(device: torch.device, precision: str) -> Callable[[], ContextManager[None]]:
    """A context factory for the forward pass: bf16 autocast on CUDA under `auto` or `bf16`, else nothing."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return contextlib.nullcontext
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        if precision == "bf16":
            raise ConfigError("trainer.precision", precision, "this GPU does not support bf16")
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and torch; in deterministic mode also pin the kernels that would vary between runs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def rng_state() -> dict[str, Any]:
    """Every random generator's state, for a checkpoint, in types `torch.load(weights_only=True)` reads (what
    Lightning loads a checkpoint with): tensors, numbers, strings, lists and tuples."""
    name, keys, position, has_gauss, gauss = np.random.get_state(legacy=True)  # a tuple, as legacy=True gives it
    numpy = (str(name), np.asarray(keys).tolist(), int(position), int(has_gauss), float(gauss))
    state = {"python": random.getstate(), "numpy": numpy, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
