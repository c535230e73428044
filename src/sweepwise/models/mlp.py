"""A multi-layer perceptron on the flattened input."""

import math
from collections.abc import Sequence

import torch
from torch import nn

from sweepwise.models.shapes import check_dropout, check_positive


class MLP(nn.Module):
    """`depth` hidden layers of `width` units, each Linear -> ReLU -> Dropout."""

    def __init__(
        self,
        input_shape: Sequence[int],
        num_outputs: int,
        width: int = 256,
        depth: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        width, depth = check_positive("model.width", width), check_positive("model.depth", depth)
        dropout = check_dropout(dropout)
        layers: list[nn.Module] = [nn.Flatten()]
        features = math.prod(input_shape)
        for _ in range(depth):
            layers += [nn.Linear(features, width), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            features = width
        layers.append(nn.Linear(features, num_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.layers(inputs)
        return logits
