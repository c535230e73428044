"""Models for every task: each model target receives `input_shape` and `num_outputs` (classes, or numeric
targets) from the data and the task; its last layer is a linear head of that size."""

from sweepwise.models.convnet import ConvNet
from sweepwise.models.linear import Linear
from sweepwise.models.mlp import MLP
from sweepwise.models.resnet import ResNet
from sweepwise.models.transformer import Transformer

__all__ = ["MLP", "ConvNet", "Linear", "ResNet", "Transformer"]
