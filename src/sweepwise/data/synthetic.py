"""Generated classification data: one random prototype per class plus Gaussian noise, image-shaped or tabular."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from sweepwise.data.augment import make_augment
from sweepwise.data.module import TensorData
from sweepwise.errors import ConfigError


def make_synthetic(
    num_samples: int = 2000,
    num_classes: int = 4,
    shape: Sequence[int] = (1, 8, 8),
    noise: float = 1.0,
    seed: int = 0,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    augment: dict[str, Any] | None = None,
) -> TensorData:
    """`shape` (C, H, W) gives images, (F,) a table; larger `noise` makes the classes overlap more."""
    if num_samples < 2:
        raise ConfigError("data.num_samples", num_samples, "must be >= 2")
    if num_classes < 2:
        raise ConfigError("data.num_classes", num_classes, "must be >= 2")
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise ConfigError("data.shape", list(shape), "must be [features] or [channels, height, width]")
    if noise < 0:
        raise ConfigError("data.noise", noise, "must be >= 0")
    rng = np.random.default_rng(seed)
    prototypes = rng.standard_normal((num_classes, *shape)).astype(np.float32)
    labels = rng.integers(0, num_classes, size=num_samples)
    inputs = prototypes[labels] + noise * rng.standard_normal((num_samples, *shape)).astype(np.float32)
    return TensorData.from_arrays(
        inputs,
        labels.astype(np.int64),
        [f"class_{index}" for index in range(num_classes)],
        val_fraction=val_fraction,
        split_seed=split_seed,
        augment=make_augment(augment),
    )
