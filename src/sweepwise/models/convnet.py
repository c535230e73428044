"""A small CNN: conv-BN-ReLU stages that halve the resolution, then global average pooling and a linear head."""

from collections.abc import Sequence

import torch
from torch import nn

from sweepwise.models.shapes import check_dropout, check_positive, image_channels


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ConvNet(nn.Module):
    """`depth` stages; stage i has `width * 2**i` channels, two 3x3 convs, and (after the first) stride 2."""

    def __init__(
        self,
        input_shape: Sequence[int],
        num_outputs: int,
        width: int = 32,
        depth: int = 3,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        channels = image_channels("convnet", input_shape)
        width, depth = check_positive("model.width", width), check_positive("model.depth", depth)
        stages: list[nn.Module] = []
        for stage in range(depth):
            out_channels = width * 2**stage
            stages += [conv_bn_relu(channels, out_channels, stride=1 if stage == 0 else 2)]
            stages += [conv_bn_relu(out_channels, out_channels)]
            channels = out_channels
        self.features = nn.Sequential(*stages)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(check_dropout(dropout)),
            nn.Linear(channels, num_outputs),
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.features(inputs))
        return logits
