"""Generated regression data: numeric targets from Gaussian features, a linear or a non-linear function of them
plus noise of a chosen level, so the best reachable R^2 is known."""

from typing import Any

import numpy as np

from sweepwise.data.augment import make_augment
from sweepwise.data.module import TensorData
from sweepwise.errors import ConfigError

FUNCTIONS = ("linear", "nonlinear")


def make_regression(
    num_samples: int = 2000,
    num_features: int = 10,
    num_targets: int = 1,
    function: str = "linear",
    noise: float = 0.1,
    scale: float = 1.0,
    offset: float = 0.0,
    seed: int = 0,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    augment: dict[str, Any] | None = None,
) -> TensorData:
    """Targets `scale * (f(x) + noise * e) + offset`, f of unit variance, so `noise` sets the best R^2 at
    1 / (1 + noise^2); `scale` and `offset` set the targets' units."""
    if num_samples < 2:
        raise ConfigError("data.num_samples", num_samples, "must be >= 2")
    if num_features < 1:
        raise ConfigError("data.num_features", num_features, "must be >= 1")
    if num_targets < 1:
        raise ConfigError("data.num_targets", num_targets, "must be >= 1")
    if function not in FUNCTIONS:
        raise ConfigError("data.function", function, f"must be one of {', '.join(FUNCTIONS)}")
    if noise < 0:
        raise ConfigError("data.noise", noise, "must be >= 0")
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((num_samples, num_features))
    weights = rng.standard_normal((num_features, num_targets))
    signal = inputs @ weights
    if function == "nonlinear":
        # a sine of the linear part and a product of two features: no linear model fits either
        signal = np.sin(2 * signal / signal.std(axis=0)) + inputs[:, :1] * inputs[:, -1:]
    signal = (signal - signal.mean(axis=0)) / signal.std(axis=0)  # f of unit variance: noise sets the best R^2
    targets = scale * (signal + noise * rng.standard_normal(signal.shape)) + offset
    return TensorData.from_targets(
        inputs.astype(np.float32),
        targets.astype(np.float32),
        [f"target_{index}" for index in range(num_targets)],
        val_fraction=val_fraction,
        split_seed=split_seed,
        augment=make_augment(augment),
    )
