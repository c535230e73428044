"""Custom `_target_` parts for end-to-end tests: a model that diverges after a few optimiser steps."""

from collections.abc import Sequence

import torch
from torch import nn


class DivergingModel(nn.Module):
    """A linear model whose outputs turn NaN after `healthy_steps` training forward passes."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, healthy_steps: int = 20) -> None:
        super().__init__()
        self.linear = nn.Linear(int(torch.tensor(input_shape).prod()), num_classes)
        self.healthy_steps, self.calls = healthy_steps, 0

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits = self.linear(inputs.flatten(1))
        if self.training:
            self.calls += 1
            if self.calls > self.healthy_steps:
                return logits * float("nan")
        return logits
