"""A task of your own: quantile regression, which predicts the q-th quantile of the target instead of its mean.

Chosen with `_target_`, like any config group's option:

    python train.py task=regression data=diabetes model=mlp task._target_=quantile.Quantile +task.quantile=0.9

(with this folder on PYTHONPATH). It is a regression in every other way (standardised targets; RMSE, MAE and R²
in the target's units; the regression's baselines, figures and preflight checks), so it subclasses `Regression`
and changes the loss alone. A task unlike any built-in one subclasses `sweepwise.tasks.Task` and writes each of its
methods (see the README's "Tasks").
"""

import torch

from sweepwise.errors import ConfigError
from sweepwise.tasks import Regression


class Quantile(Regression):
    """The pinball loss at `quantile`: under-predicting costs `quantile` per unit, over-predicting 1 - `quantile`,
    so the minimum is the target's q-th quantile (q = 0.5: the median, as an L1 loss)."""

    def __init__(self, quantile: float = 0.5, loss: str = "mse", huber_delta: float = 1.0) -> None:
        super().__init__(loss, huber_delta)  # the regression's own options stay valid; `loss` is replaced below
        if not 0.0 < quantile < 1.0:
            raise ConfigError("task.quantile", quantile, "must be in the open interval (0, 1)")
        self.quantile = quantile

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        error = targets - outputs.reshape(targets.shape)
        return torch.maximum(self.quantile * error, (self.quantile - 1.0) * error).mean()
