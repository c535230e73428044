"""Classification: a score per class, cross-entropy, accuracy with its standard error."""

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sweepwise.data import DataModule
from sweepwise.data.text_corpus import TokenData
from sweepwise.errors import ConfigError
from sweepwise.spec.schema import TASK_METRICS
from sweepwise.tasks import baselines
from sweepwise.tasks.class_predictions import PredictionDynamics, mistakes
from sweepwise.tasks.task import Baseline, Sums, Task


class Classification(Task):
    """Labels 0..C-1, one logit per class."""

    name = "classification"
    metrics = TASK_METRICS["sweepwise.tasks.Classification"]
    score = "val/acc"

    def check_data(self, data: DataModule, data_key: str) -> None:
        if isinstance(data, TokenData):
            hint = f"{data_key} gives token sequences: train them with task=language_model"
            raise ConfigError("task", self.name, hint)
        if data.target_scale is not None:
            names = ", ".join(data.target_scale.names)
            raise ConfigError(
                "task", self.name, f"{data_key} gives numeric targets ({names}): train them with task=regression"
            )

    def outputs(self, data: DataModule) -> int:
        return data.num_classes

    def valid_targets(self, targets: torch.Tensor, data: DataModule) -> bool:
        return not targets.is_floating_point() and bool(((targets >= 0) & (targets < data.num_classes)).all())

    def target_texts(self, targets: torch.Tensor, data: DataModule) -> list[str]:
        return [data.class_names[int(label)] for label in targets]

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs, targets)

    def right(self, outputs: torch.Tensor, targets: torch.Tensor) -> int:
        return int((outputs.argmax(dim=1) == targets).sum())

    def batch_sums(self, outputs: torch.Tensor, targets: torch.Tensor) -> Sums:
        return {
            "loss": F.cross_entropy(outputs, targets, reduction="sum"),
            "correct": (outputs.argmax(dim=1) == targets).sum(),
        }

    def measure(self, sums: Sums, count: int, data: DataModule) -> dict[str, float]:
        accuracy = sums["correct"].item() / count
        return {
            "val/loss": sums["loss"].item() / count,
            "val/acc": accuracy,
            "val/acc_se": math.sqrt(accuracy * (1.0 - accuracy) / count),
        }

    def constant_outputs(self, data: DataModule, train_targets: torch.Tensor) -> torch.Tensor:
        return log_priors(train_targets, data.num_classes)

    def predictions(self, outputs: torch.Tensor) -> torch.Tensor:
        return F.softmax(outputs.float(), dim=-1)

    def zeroed_bound(self, val_targets: torch.Tensor) -> tuple[float, float]:
        return one_answer_bound(val_targets)

    def baselines(
        self, train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor]
    ) -> list[Baseline]:
        return [
            Baseline("majority class", baselines.majority_accuracy(train[1], val[1])),
            Baseline("linear", baselines.linear_accuracy(train, val, int(max(train[1].max(), val[1].max())) + 1)),
        ]

    def probe(self, data: DataModule, total_steps: int, batch_size: int) -> PredictionDynamics | None:
        return PredictionDynamics(data, total_steps, batch_size)

    def figures(self, model: nn.Module, data: DataModule, batch_size: int, folder: Path) -> list[Path]:
        return mistakes(model, data, batch_size, folder)


def log_priors(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The log frequencies of the labels (every position's, for sequences): softmax gives the priors back."""
    counts = torch.bincount(targets.flatten(), minlength=num_classes).double()
    return (counts / counts.sum()).clamp_min(1e-8).log().float()


def one_answer_bound(targets: torch.Tensor) -> tuple[float, float]:
    """With inputs ignored a model gives one answer everywhere: its accuracy is at best the most frequent label's
    share; the SE (over samples) is the largest of any accuracy up to it."""
    largest = float(torch.bincount(targets.flatten()).max()) / targets.numel()
    worst = min(largest, 0.5)
    return largest, math.sqrt(worst * (1 - worst) / len(targets))
