"""Batch augmentation applied on the training device: random translation and Gaussian noise."""

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from sweepwise.errors import ConfigError


@dataclass(frozen=True)
class Augment:
    """`max_shift` is a fraction of the image side (0 = off); `noise_std` is in normalised units (0 = off)."""

    max_shift: float = 0.0
    noise_std: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_shift < 1.0:
            raise ConfigError("data.augment.max_shift", self.max_shift, "must be in [0, 1)")
        if self.noise_std < 0.0:
            raise ConfigError("data.augment.noise_std", self.noise_std, "must be >= 0")

    @property
    def active(self) -> bool:
        return self.max_shift > 0.0 or self.noise_std > 0.0

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.max_shift > 0.0 and inputs.ndim == 4:
            inputs = _translate(inputs, self.max_shift)
        if self.noise_std > 0.0:
            inputs = inputs + self.noise_std * torch.randn_like(inputs)
        return inputs


def _translate(images: torch.Tensor, max_shift: float) -> torch.Tensor:
    """Shift each image by its own random offset (up to `max_shift` of its side), padding with zeros."""
    batch = images.shape[0]
    theta = torch.zeros(batch, 2, 3, device=images.device, dtype=images.dtype)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = 1.0
    theta[:, :, 2] = (torch.rand(batch, 2, device=images.device, dtype=images.dtype) * 2 - 1) * 2 * max_shift
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def make_augment(augment: dict[str, Any] | None) -> Augment:
    """Build an Augment from a config mapping (missing keys mean off)."""
    return Augment(**dict(augment or {}))
