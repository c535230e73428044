"""The recipe's "init well": the output layer's bias set from the class priors, so training starts at the priors."""

import numpy as np
import torch
from torch import nn

from sweepwise.data import DataModule


def class_priors(data: DataModule, batch_size: int) -> np.ndarray:
    """The training set's class frequencies."""
    counts = np.zeros(data.num_classes)
    for _, labels in data.train_batches(batch_size, epoch=1, seed=0):
        counts += np.bincount(labels.cpu().numpy(), minlength=data.num_classes)
    priors: np.ndarray = counts / counts.sum()
    return priors


def final_linear(model: nn.Module) -> nn.Linear | None:
    """The model's last `nn.Linear` with a bias: its output layer in every model of this project."""
    layers = [module for module in model.modules() if isinstance(module, nn.Linear) and module.bias is not None]
    return layers[-1] if layers else None


def init_final_bias(model: nn.Module, priors: np.ndarray) -> bool:
    """Set the output layer's bias to the log class priors, so the first predictions are the priors."""
    layer = final_linear(model)
    if layer is None or layer.out_features != len(priors):
        return False
    with torch.no_grad():
        layer.bias.copy_(torch.as_tensor(np.log(np.clip(priors, 1e-8, None)), dtype=layer.bias.dtype))
    return True
