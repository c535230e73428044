"""Input-shape checks shared by the models."""

from collections.abc import Sequence

from sweepwise.errors import ConfigError


def image_channels(model: str, input_shape: Sequence[int]) -> int:
    """Channels of an image input (C, H, W); a clear error for tabular inputs."""
    if len(input_shape) != 3:
        raise ConfigError("model", model, f"needs image inputs (C, H, W); the data gives shape {tuple(input_shape)}")
    return int(input_shape[0])


def check_positive(key: str, value: int) -> int:
    if int(value) < 1:
        raise ConfigError(key, value, "must be >= 1")
    return int(value)


def check_dropout(value: float) -> float:
    if not 0.0 <= float(value) < 1.0:
        raise ConfigError("model.dropout", value, "must be in [0, 1)")
    return float(value)
