"""Regression: one or several numeric targets, trained standardised, measured in the targets' own units.

The data standardises the targets with training statistics (`DataModule.target_scale`), so a loss, a learning
rate and an initialisation that suit one target scale suit every other; RMSE and MAE are reported back in the
target's units and R^2 beside them. Several targets are averaged (each R^2, RMSE and MAE in its own units), and
each is also reported under its name.
"""

import math
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sweepwise.data import DataModule
from sweepwise.data.targets import TargetScale
from sweepwise.data.text_corpus import TokenData
from sweepwise.errors import ConfigError
from sweepwise.spec.schema import PER_TARGET_METRICS, TASK_METRICS, per_target_base
from sweepwise.tasks import baselines
from sweepwise.tasks.regression_figures import prediction_figures
from sweepwise.tasks.served import InTargetUnits
from sweepwise.tasks.task import Baseline, Sums, Task

TARGET = "sweepwise.tasks.Regression"
LOSSES = ("mse", "l1", "huber")
RIGHT_WITHIN = 0.25  # a prediction is right when every target is within this many of its standard deviations


class Regression(Task):
    """Numeric targets, one output per target; `loss` is mse, l1 or huber (with `huber_delta`, in standard
    deviations of the target)."""

    name = "regression"
    metrics = TASK_METRICS[TARGET]
    score = "val/r2"

    def __init__(self, loss: str = "mse", huber_delta: float = 1.0) -> None:
        if loss not in LOSSES:
            raise ConfigError("task.loss", loss, f"must be one of {', '.join(LOSSES)}")
        if huber_delta <= 0:
            raise ConfigError("task.huber_delta", huber_delta, "must be > 0")
        self.loss_name, self.huber_delta = loss, huber_delta

    def check_metric(self, key: str, metric: str, data: DataModule) -> None:
        """Besides the metrics of all targets, one target's own (`val/rmse/price`) where there are several."""
        names = _scale(data).names
        own = {f"{base}/{_metric_name(name)}" for base in PER_TARGET_METRICS[TARGET] for name in names}
        if per_target_base(metric) is None or len(names) < 2:
            super().check_metric(key, metric, data)
        elif metric not in own:
            raise ConfigError(key, metric, f"names no target: the targets are {', '.join(map(str, names))}")

    def check_data(self, data: DataModule, data_key: str) -> None:
        if isinstance(data, TokenData):
            hint = f"{data_key} gives token sequences: train them with task=language_model"
            raise ConfigError("task", self.name, hint)
        if data.target_scale is None:
            raise ConfigError(
                "task",
                self.name,
                f"{data_key} gives class labels ({data.num_classes} classes), not numeric targets: train them with "
                "task=classification, or for regression use data=csv with a numeric data.label_column, "
                "data=diabetes or data=synthetic_regression",
            )

    def outputs(self, data: DataModule) -> int:
        return data.num_targets

    def valid_targets(self, targets: torch.Tensor, data: DataModule) -> bool:
        return targets.is_floating_point() and bool(torch.isfinite(targets).all())

    def target_texts(self, targets: torch.Tensor, data: DataModule) -> list[str]:
        scale = _scale(data)
        values = targets.reshape(len(targets), -1).cpu().numpy() * scale.std + scale.mean
        return [", ".join(f"{value:.3g}" for value in row) for row in values]

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.loss_name == "l1":
            return F.l1_loss(outputs, targets)
        if self.loss_name == "huber":
            return F.huber_loss(outputs, targets, delta=self.huber_delta)
        return F.mse_loss(outputs, targets)

    def right(self, outputs: torch.Tensor, targets: torch.Tensor) -> int:
        errors = (outputs.reshape(targets.shape) - targets).abs().reshape(len(targets), -1)
        return int((errors.amax(dim=1) < RIGHT_WITHIN).sum())

    def batch_sums(self, outputs: torch.Tensor, targets: torch.Tensor) -> Sums:
        """Per target, in standardised units: the loss, the errors' powers and the targets' (for R^2)."""
        errors = outputs.reshape(targets.shape) - targets
        squared = errors.square()
        return {
            "loss": self.loss(outputs.reshape(targets.shape), targets) * len(targets),
            "squared": squared.sum(dim=0),
            "fourth": squared.square().sum(dim=0),
            "absolute": errors.abs().sum(dim=0),
            "target": targets.sum(dim=0),
            "target_squared": targets.square().sum(dim=0),
        }

    def measure(self, sums: Sums, count: int, data: DataModule) -> dict[str, float]:
        scale = _scale(data)
        per_target = [_target_metrics(sums, count, index, float(std)) for index, std in enumerate(scale.std)]
        metrics = {"val/loss": sums["loss"].item() / count}
        for key in per_target[0]:
            values = [target[key] for target in per_target]
            # a mean of the targets' values; its SE as of independent ones
            mean = sum(values) / len(values)
            metrics[key] = math.sqrt(sum(v * v for v in values)) / len(values) if key.endswith("_se") else mean
        if len(per_target) > 1:
            for name, target in zip(scale.names, per_target, strict=True):
                metrics.update({f"{key}/{_metric_name(name)}": value for key, value in target.items()})
        return metrics

    def constant_outputs(self, data: DataModule, train_targets: torch.Tensor) -> torch.Tensor:
        """The training targets' mean: zero in standardised units."""
        return train_targets.float().reshape(len(train_targets), -1).mean(dim=0)

    def predictions(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.float()

    def zeroed_bound(self, val_targets: torch.Tensor) -> tuple[float, float]:
        """A prediction that ignores the inputs is one value per target: at best the validation mean, R^2 = 0.
        Its SE is the R^2 SE of that prediction (the spread of the squared deviations, relative to the variance)."""
        rows = val_targets.double().reshape(len(val_targets), -1)
        squared = (rows - rows.mean(dim=0)).square()
        variance = squared.mean(dim=0)
        se = (squared.std(dim=0, correction=0) / math.sqrt(len(rows)) / variance.clamp_min(1e-12)).mean()
        return 0.0, float(se)

    def baselines(
        self, train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor]
    ) -> list[Baseline]:
        return [
            Baseline("mean", baselines.r2_score(train[1].float().mean(dim=0), val[1])),
            Baseline("linear", baselines.r2_score(baselines.linear_least_squares(train, val[0]), val[1])),
        ]

    def servable(self, model: nn.Module, data: DataModule) -> nn.Module:
        """The model with its outputs in the targets' own units: what a served regression must answer."""
        return InTargetUnits(super().servable(model, data), _scale(data))

    def output_names(self, data: DataModule) -> list[str]:
        return list(_scale(data).names)

    def figures(self, model: nn.Module, data: DataModule, batch_size: int, folder: Path) -> list[Path]:
        return prediction_figures(model, data, _scale(data), batch_size, folder)


def _scale(data: DataModule) -> TargetScale:
    if data.target_scale is None:
        raise ConfigError("task", "regression", "the data has class labels, not numeric targets")
    return data.target_scale


def _target_metrics(sums: Sums, count: int, index: int, std: float) -> dict[str, float]:
    """One target's RMSE, MAE and R^2 in its own units (`std`: its training standard deviation), with SEs (the
    delta method on the means of squared and absolute errors)."""
    mse = sums["squared"][index].item() / count
    mse_se = math.sqrt(max(sums["fourth"][index].item() / count - mse * mse, 0.0) / count)
    mae = sums["absolute"][index].item() / count
    mae_se = math.sqrt(max(mse - mae * mae, 0.0) / count)
    mean = sums["target"][index].item() / count
    variance = max(sums["target_squared"][index].item() / count - mean * mean, 1e-12)
    rmse = math.sqrt(mse)
    return {
        "val/rmse": rmse * std,
        "val/rmse_se": mse_se / (2 * rmse) * std if rmse > 0 else 0.0,
        "val/mae": mae * std,
        "val/mae_se": mae_se * std,
        "val/r2": 1 - mse / variance,
        "val/r2_se": mse_se / variance,
    }


def _metric_name(name: str) -> str:
    """A target's name as MLflow takes it in a metric key."""
    return re.sub(r"[^A-Za-z0-9_.\- ]", "_", name)
