"""The recipe's "init well": the output layer's bias set so that the untrained model predicts the task's dumb
baseline (the class priors, the target mean), and training starts from there."""

import torch
from torch import nn

from sweepwise.data import DataModule


def training_targets(data: DataModule, batch_size: int) -> torch.Tensor:
    """The training targets of the first epoch's batches (what the loop trains on), on the CPU."""
    return torch.cat([targets.cpu() for _, targets in data.train_batches(batch_size, epoch=1, seed=0)])


def final_linear(model: nn.Module) -> nn.Linear | None:
    """The model's last `nn.Linear` with a bias: its output layer in every model of this project."""
    layers = [module for module in model.modules() if isinstance(module, nn.Linear) and module.bias is not None]
    return layers[-1] if layers else None


def set_final_bias(model: nn.Module, bias: torch.Tensor) -> bool:
    """Set the output layer's bias to `bias`; False when the model has no output layer of that size."""
    layer = final_linear(model)
    if layer is None or layer.out_features != len(bias):
        return False
    with torch.no_grad():
        layer.bias.copy_(bias.to(layer.bias.dtype))
    return True
