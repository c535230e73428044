"""A linear model on the flattened input (logits, or numeric predictions): the dumbest learned baseline."""

import math
from collections.abc import Sequence

import torch
from torch import nn


class Linear(nn.Module):
    def __init__(self, input_shape: Sequence[int], num_outputs: int) -> None:
        super().__init__()
        self.classifier = nn.Linear(math.prod(input_shape), num_outputs)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.classifier(inputs.flatten(1))
        return logits
