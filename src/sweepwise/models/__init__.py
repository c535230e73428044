"""Classification models. Every model target receives `input_shape` and `num_classes` from the data."""

from sweepwise.models.convnet import ConvNet
from sweepwise.models.linear import Linear
from sweepwise.models.mlp import MLP
from sweepwise.models.resnet import ResNet

__all__ = ["MLP", "ConvNet", "Linear", "ResNet"]
