"""The task: what a model learns to predict from its data and how that is measured.

The training loop, the evaluation, the recipe's checks and the logged model read the task, never a loss or a
metric of their own: a task owns its loss, its validation metrics (each with a standard error and a direction),
its dumb baselines, its output layer's starting bias, its prediction figures and the score the recipe's checks
compare runs by. A task of the user's own subclasses `Task` and is chosen by `_target_` as the built-in ones are.
"""

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch
from torch import nn

from sweepwise.data import DataModule
from sweepwise.errors import ConfigError
from sweepwise.tasks.output_bias import set_final_bias, training_targets
from sweepwise.tasks.served import FromRawInputs, normalises_inputs

Sums = dict[str, torch.Tensor]


class StepProbe(Protocol):
    """Looks at the model every `every` optimiser steps (e.g. to record prediction dynamics); must not change it.
    What it recorded goes into the training's checkpoints, so that a resumed run's record is the whole run's."""

    every: int

    def __call__(self, step: int, model: nn.Module) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class RecordingProbe(StepProbe, Protocol):
    """A step probe that draws what it recorded."""

    def save(self, path: Path) -> list[Path]:
        """The picture at `path` and its numbers beside it; none before the first recording."""
        ...


@dataclass(frozen=True)
class Baseline:
    """A dumb predictor's score on the validation set (in the task's `score`), for a model to beat."""

    name: str
    score: float


class Task(ABC):
    """A kind of supervised learning. `score` is the validation metric, higher better, with a standard error
    (`<score>_se`), that the recipe's checks compare runs by; `metrics` are every per-epoch metric a run reports
    (the ones an objective or early stopping may name)."""

    name: ClassVar[str]
    metrics: ClassVar[Sequence[str]]
    score: ClassVar[str]

    def check_metric(self, key: str, metric: str, data: DataModule) -> None:
        """A run of this task reports its `metrics` alone: an objective or a stopping rule must name one."""
        if metric not in self.metrics:
            raise ConfigError(key, metric, f"task={self.name} reports {', '.join(self.metrics)}")

    @abstractmethod
    def check_data(self, data: DataModule, data_key: str) -> None:
        """Refuse data whose targets this task cannot learn: one line naming the data (`data_key`) and what fits."""

    def check_model(self, model: nn.Module, data: DataModule, target: str) -> None:
        """Refuse a model that cannot read this task's inputs: one line naming the model (its `target`) and what
        fits, not a traceback at its first step. Any model that builds for the data's shape fits by default."""
        return None

    @abstractmethod
    def outputs(self, data: DataModule) -> int:
        """The model's outputs per sample."""

    @abstractmethod
    def valid_targets(self, targets: torch.Tensor, data: DataModule) -> bool:
        """Whether a batch's targets are ones this task can learn (labels in range, finite numbers)."""

    @abstractmethod
    def target_texts(self, targets: torch.Tensor, data: DataModule) -> list[str]:
        """Each sample's target as a short text (a picture's title)."""

    @abstractmethod
    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The training loss: the mean over the batch."""

    @abstractmethod
    def right(self, outputs: torch.Tensor, targets: torch.Tensor) -> int:
        """How many samples `outputs` predict right (the class; every target within a small error)."""

    @abstractmethod
    def batch_sums(self, outputs: torch.Tensor, targets: torch.Tensor) -> Sums:
        """What the evaluation adds up over the validation batches (on the device, no synchronisation)."""

    @abstractmethod
    def measure(self, sums: Sums, count: int, data: DataModule) -> dict[str, float]:
        """The validation metrics (`val/...`, each with `_se` where it has one) from the sums of `count` samples."""

    @abstractmethod
    def constant_outputs(self, data: DataModule, train_targets: torch.Tensor) -> torch.Tensor:
        """The best outputs that ignore the inputs, fitted to the training targets (outputs,): what a model
        starting from its `init_output` bias predicts, and the dumb baseline every model must beat."""

    def constant_batch(self, constant: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """`constant_outputs` for every sample of `targets`, shaped as the model's outputs for them."""
        return constant.expand(len(targets), -1)

    @abstractmethod
    def predictions(self, outputs: torch.Tensor) -> torch.Tensor:
        """What outputs predict, in the units a prediction's error is judged in (class probabilities, the
        standardised targets)."""

    @abstractmethod
    def zeroed_bound(self, val_targets: torch.Tensor) -> tuple[float, float]:
        """(the highest `score` any prediction that ignores the inputs can reach on these validation targets, the
        largest standard error of such a score): a bound that can spare the recipe its zeroed-input run."""

    @abstractmethod
    def baselines(
        self, train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor]
    ) -> list[Baseline]:
        """Dumb baselines fitted on the training rows (inputs flattened) and scored on validation. The first
        predicts a constant (the majority class, the mean): the one a model must beat."""

    @abstractmethod
    def figures(self, model: nn.Module, data: DataModule, batch_size: int, folder: Path) -> list[Path]:
        """Pictures (and their numbers) of what the trained model predicts on the validation set."""

    def servable(self, model: nn.Module, data: DataModule) -> nn.Module:
        """The trained model as it is logged for serving: its inputs in the data's own units (it normalises them
        itself, with the training split's statistics), its outputs what the task predicts (logits here, one per
        `output_names`; a task may map them to its own units)."""
        return FromRawInputs(model, data) if normalises_inputs(data) else model

    def output_names(self, data: DataModule) -> list[str]:
        """What each of the served model's outputs stands for (the classes, in order), logged beside it."""
        return list(data.class_names)

    def init_output(self, model: nn.Module, data: DataModule, batch_size: int) -> bool:
        """Start the output layer's bias at `constant_outputs`, so that the untrained model predicts the dumb
        baseline; False where the model has no such layer."""
        return set_final_bias(model, self.constant_outputs(data, training_targets(data, batch_size)))

    def memorisable(self, samples: int, data: DataModule) -> int:
        """How many of `samples` the recipe's "overfit one batch" asks a model to memorise: at most one per input
        feature, so that a model at least linear in its inputs can fit any targets (or classes) exactly; more
        points than weights need a larger model, or are fitted in part."""
        return min(samples, math.prod(data.input_shape))

    def probe(self, data: DataModule, total_steps: int, batch_size: int) -> RecordingProbe | None:
        """What the training loop records of the predictions as it trains (saved with `figures`), if anything;
        `batch_size` is the training batch's."""
        return None

    def score_of(self, outputs: torch.Tensor, targets: torch.Tensor, data: DataModule) -> float:
        """The task's score of `outputs` against `targets` (e.g. on training samples)."""
        return self.measure(self.batch_sums(outputs.float(), targets), len(targets), data)[self.score]

    @torch.no_grad()
    def evaluate(
        self,
        model: nn.Module,
        data: DataModule,
        batch_size: int,
        autocast: Callable[[], AbstractContextManager[None]],
    ) -> dict[str, float]:
        """Every validation metric over every validation sample (checked: count == len)."""
        was_training = model.training
        model.eval()
        sums: Sums = {}
        count = 0
        for inputs, targets in data.val_batches(batch_size):
            with autocast():
                outputs = model(inputs)
            for key, value in self.batch_sums(outputs.float(), targets).items():
                sums[key] = sums[key] + value if key in sums else value
            count += len(targets)
        model.train(was_training)
        if count != data.num_val:
            raise RuntimeError(f"evaluation saw {count} of {data.num_val} validation samples")
        return self.measure(sums, count, data)

    def summary(self, last: dict[str, float]) -> dict[str, str]:
        """The last epoch's headline metrics, for the end-of-run table."""
        return {
            f"{self.score} (last)": f"{last[self.score]:.4f} +- {last[f'{self.score}_se']:.4f}",
            "val/loss (last)": f"{last['val/loss']:.4g}",
        }
