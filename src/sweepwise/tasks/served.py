"""The model as it is served: it takes inputs in the data's own units and answers in the task's own units.

Training sees inputs normalised with the training split's statistics (and a regression's targets standardised),
so the trained network alone expects numbers that a user calling the logged model does not have. The served model
carries those statistics as buffers and applies them itself: a row of the CSV in, a price in dollars out.
"""

import torch
from torch import nn

from sweepwise.data import DataModule
from sweepwise.data.targets import TargetScale
from sweepwise.data.text_corpus import TokenData


def normalises_inputs(data: DataModule) -> bool:
    """Whether the data hands the model normalised numbers (token ids are handed over as they are)."""
    return not isinstance(data, TokenData)


def raw_inputs(data: DataModule, inputs: torch.Tensor) -> torch.Tensor:
    """Inputs as the data handed them over, back in the data's own units."""
    if not normalises_inputs(data):
        return inputs
    std, mean = (torch.as_tensor(stat, dtype=inputs.dtype, device=inputs.device) for stat in (data.std, data.mean))
    return inputs * std + mean


class FromRawInputs(nn.Module):
    """A model that normalises its inputs with the training split's statistics before the trained network."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, model: nn.Module, data: DataModule) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(data.mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(data.std, dtype=torch.float32))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        outputs: torch.Tensor = self.model((inputs - self.mean) / self.std)
        return outputs


class InTargetUnits(nn.Module):
    """A regression model whose outputs, standardised in training, are mapped back to the targets' units."""

    def __init__(self, model: nn.Module, scale: TargetScale) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(scale.mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(scale.std, dtype=torch.float32))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        outputs: torch.Tensor = self.model(inputs) * self.std + self.mean
        return outputs
