"""Seeded train/validation splits and normalisation statistics taken from the training part only."""

import numpy as np

from sweepwise.errors import ConfigError


def check_val_fraction(val_fraction: float) -> None:
    """Reject a validation fraction outside the open interval (0, 1)."""
    if not 0.0 < float(val_fraction) < 1.0:
        raise ConfigError("data.val_fraction", val_fraction, "must be in the open interval (0, 1)")


def split_indices(num_samples: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (train, validation) index arrays: a permutation drawn from `seed`, the same on every machine."""
    check_val_fraction(val_fraction)
    num_val = round(num_samples * val_fraction)
    if num_val < 1 or num_val >= num_samples:
        raise ConfigError(
            "data.val_fraction",
            val_fraction,
            f"leaves {num_val} of {num_samples} samples for validation; need at least one on each side",
        )
    order = np.random.default_rng(seed).permutation(num_samples)
    return np.sort(order[num_val:]), np.sort(order[:num_val])


def channel_stats(train_inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (images: N,C,H,W) or per-feature (tables: N,F) mean and std, shaped to broadcast over one sample."""
    axes = (0, *range(2, train_inputs.ndim))
    mean = train_inputs.mean(axis=axes, keepdims=True)[0]
    std = train_inputs.std(axis=axes, keepdims=True)[0]
    return mean.astype(np.float32), np.where(std > 1e-8, std, 1.0).astype(np.float32)
