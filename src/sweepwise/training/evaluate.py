"""Evaluation over the whole validation set, with the standard error of the accuracy."""

import math
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager

import torch
import torch.nn.functional as F
from torch import nn

from sweepwise.data import DataModule


@torch.no_grad()
def evaluate(
    model: nn.Module, data: DataModule, batch_size: int, autocast: Callable[[], ContextManager[None]]
) -> dict[str, float]:
    """Mean loss and accuracy over every validation sample (checked: count == len), plus the accuracy's SE."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=data.device)
    correct = torch.zeros((), device=data.device, dtype=torch.long)
    count = 0
    for inputs, labels in data.val_batches(batch_size):
        with autocast():
            logits = model(inputs)
        loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum")
        correct += (logits.argmax(dim=1) == labels).sum()
        count += len(labels)
    model.train(was_training)
    if count != data.num_val:
        raise RuntimeError(f"evaluation saw {count} of {data.num_val} validation samples")
    accuracy = correct.item() / count
    return {
        "val/loss": loss_sum.item() / count,
        "val/acc": accuracy,
        "val/acc_se": math.sqrt(accuracy * (1.0 - accuracy) / count),
    }
