"""ResNet with basic blocks (He et al., 2016) and a small-image stem (3x3 conv, no max-pool)."""

from collections.abc import Sequence

import torch
from torch import nn

from sweepwise.errors import ConfigError
from sweepwise.models.shapes import check_dropout, check_positive, image_channels

BLOCKS_PER_DEPTH = {10: (1, 1, 1, 1), 18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(inputs)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(inputs))


class ResNet(nn.Module):
    """`depth` in {10, 18, 34}; stage i has `width * 2**i` channels; stages after the first downsample by 2."""

    def __init__(
        self,
        input_shape: Sequence[int],
        num_outputs: int,
        depth: int = 18,
        width: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        channels = image_channels("resnet", input_shape)
        if depth not in BLOCKS_PER_DEPTH:
            raise ConfigError("model.depth", depth, f"must be one of {sorted(BLOCKS_PER_DEPTH)}")
        width = check_positive("model.width", width)
        self.stem = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        blocks: list[nn.Module] = []
        in_channels = width
        for stage, count in enumerate(BLOCKS_PER_DEPTH[depth]):
            out_channels = width * 2**stage
            for index in range(count):
                blocks.append(BasicBlock(in_channels, out_channels, stride=2 if stage > 0 and index == 0 else 1))
                in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(check_dropout(dropout)),
            nn.Linear(in_channels, num_outputs),
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        for block in self.blocks:
            assert isinstance(block, BasicBlock)  # `blocks` holds nothing else
            nn.init.zeros_(block.bn2.weight)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.blocks(self.stem(inputs)))
        return logits
