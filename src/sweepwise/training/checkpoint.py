"""Checkpoints written atomically (a crash mid-write never leaves a truncated file under the real name)."""

import os
from pathlib import Path
from typing import Any

import torch

from sweepwise.errors import SweepwiseError


class CheckpointError(SweepwiseError):
    """A checkpoint file is missing or unreadable."""


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_checkpoint(path: Path, key: str = "trainer.resume_from") -> dict[str, Any]:
    """The checkpoint at `path`; errors name it as the value of config `key`, which pointed to it."""
    if not path.is_file():
        raise CheckpointError(f"{key}={str(path)!r}: no such checkpoint file")
    try:
        checkpoint: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
        return checkpoint
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"{key}={str(path)!r}: unreadable checkpoint ({error})") from error
