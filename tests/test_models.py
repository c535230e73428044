"""Models: output shapes for every model and size, and clear errors for inputs a model cannot take."""

import pytest
import torch

from sweepwise.errors import ConfigError
from sweepwise.models import MLP, ConvNet, Linear, ResNet

SHAPES = {
    "linear": (Linear, (1, 8, 8), {}),
    "mlp": (MLP, (1, 8, 8), {"width": 32, "depth": 3, "dropout": 0.2}),
    "convnet-8px": (ConvNet, (1, 8, 8), {"width": 8, "depth": 2}),
    "convnet-32px-rgb": (ConvNet, (3, 32, 32), {"width": 8, "depth": 4}),
    "resnet10-8px": (ResNet, (1, 8, 8), {"depth": 10, "width": 8}),
    "resnet18-32px-rgb": (ResNet, (3, 32, 32), {"depth": 18, "width": 8}),
    "resnet34-16px-rgb": (ResNet, (3, 16, 16), {"depth": 34, "width": 4}),
}


@pytest.mark.parametrize("name", SHAPES)
def test_logits_have_batch_by_class_shape_and_gradients_reach_every_parameter(name):
    model_class, input_shape, sizes = SHAPES[name]
    model = model_class(input_shape, 10, **sizes)
    logits = model(torch.randn(5, *input_shape))
    assert logits.shape == (5, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_mlp_works_on_tables_and_convnets_refuse_them():
    assert MLP((7,), 3)(torch.randn(4, 7)).shape == (4, 3)
    with pytest.raises(ConfigError, match="convnet.*needs image inputs"):
        ConvNet((7,), 3)
    with pytest.raises(ConfigError, match="resnet.*needs image inputs"):
        ResNet((7,), 3)


def test_resnet_depth_sets_the_number_of_blocks():
    assert len(ResNet((1, 8, 8), 10, depth=10, width=4).blocks) == 4
    assert len(ResNet((1, 8, 8), 10, depth=18, width=4).blocks) == 8
    assert len(ResNet((1, 8, 8), 10, depth=34, width=4).blocks) == 16
    with pytest.raises(ConfigError, match="model.depth=20"):
        ResNet((1, 8, 8), 10, depth=20)


def test_size_fields_are_checked():
    with pytest.raises(ConfigError, match="model.dropout=1.0"):
        MLP((4,), 2, dropout=1.0)
    with pytest.raises(ConfigError, match="model.width=0"):
        ConvNet((1, 8, 8), 2, width=0)
