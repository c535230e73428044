"""The pipeline under check: data, model, optimiser and schedule built from the config, regularisation off.

The checks train with the project's own `Trainer` for a few steps (no checkpoints, no MLflow), so what they
exercise is what a real run does: the same data order, schedule, loss and evaluation.
"""

import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, cast

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from sweepwise import configure
from sweepwise.console import SilentProgress
from sweepwise.data import DataModule
from sweepwise.data.module import Batch
from sweepwise.schedules import Constant
from sweepwise.spec.run import RunSpec, run_spec
from sweepwise.spec.schema import TrainerSettings
from sweepwise.tasks import Task
from sweepwise.training.loop import StepRecorder, Trainer, TrainState, planned_steps
from sweepwise.training.runtime import autocast_for, resolve_device, seed_everything

# the recipe's "simplify": what regularises is switched off wherever the config has it
REGULARISATION_OFF = {
    "data.augment.max_shift": 0.0,
    "data.augment.noise_std": 0.0,
    "model.dropout": 0.0,
    "optimizer.weight_decay": 0.0,
}


def simplified(cfg: DictConfig) -> DictConfig:
    """A copy of `cfg` with augmentation, dropout and weight decay off (the keys it has)."""
    simple = OmegaConf.create(cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True)))
    for key, value in REGULARISATION_OFF.items():
        if OmegaConf.select(simple, key, default=None) is not None:
            OmegaConf.update(simple, key, value)
    return simple


class ZeroedInputs:
    """The same data with every input replaced by zeros: what a model learns without looking at the inputs."""

    def __init__(self, data: DataModule) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._data, name)

    def train_batches(self, batch_size: int, epoch: int, seed: int) -> Iterator[Batch]:
        for inputs, labels in self._data.train_batches(batch_size, epoch, seed):
            yield torch.zeros_like(inputs), labels

    def val_batches(self, batch_size: int) -> Iterator[Batch]:
        for inputs, labels in self._data.val_batches(batch_size):
            yield torch.zeros_like(inputs), labels


@dataclass
class StepLosses:
    """A step recorder (see `training.loop.StepRecorder`) keeping every step's loss."""

    every: int = 1
    losses: list[float] = field(default_factory=list)

    def record_step(self, step: int, loss: torch.Tensor, lr: float) -> None:
        self.losses.append(float(loss))

    def pending(self) -> list[tuple[int, float, float]]:
        return []

    def restore(self, pending: list[tuple[int, float, float]]) -> None:
        """Nothing to restore: these runs never resume."""


@dataclass
class Pipeline:
    cfg: DictConfig
    spec: RunSpec
    task: Task
    data: DataModule
    device: torch.device

    @classmethod
    def build(cls, cfg: DictConfig, spec: RunSpec | None = None) -> "Pipeline":
        """The pipeline of `cfg` simplified; `spec` is `cfg` checked (built here when not given: the
        simplification changes none of the values it holds)."""
        simple = simplified(cfg)
        spec = spec or run_spec(simple)
        device = resolve_device(spec.trainer.device)
        task = configure.build_task(simple)
        data = configure.build_data(simple.data, task).to(device)
        data.steps_per_epoch(spec.trainer.batch_size)
        return cls(simple, spec, task, data, device)

    @property
    def settings(self) -> TrainerSettings:
        return self.spec.trainer

    @property
    def init_bias(self) -> bool:
        return self.spec.recipe.init_bias

    @property
    def autocast(self) -> Callable[[], AbstractContextManager[None]]:
        return autocast_for(self.device, self.settings.precision)

    @property
    def planned_steps(self) -> int:
        return planned_steps(self.settings, self.data.steps_per_epoch(self.settings.batch_size))

    def model(self, seed: int) -> nn.Module:
        """A freshly initialised model (seeded), with the output bias at the task's dumb baseline when asked for."""
        seed_everything(seed, self.settings.deterministic)
        model = configure.build_model(self.cfg.model, self.data, self.task).to(self.device)
        if self.init_bias:
            self.task.init_output(model, self.data, self.settings.batch_size)
        return model

    @property
    def learning_rate(self) -> float:
        """The configured learning rate."""
        return self.spec.learning_rate

    def optimizer(self, model: nn.Module, lr: float | None = None) -> torch.optim.Optimizer:
        """The configured optimiser over `model`'s parameters, at learning rate `lr` when given."""
        extra = {"lr": lr} if lr is not None else {}
        optimizer: torch.optim.Optimizer = configure.build(self.cfg.optimizer, "optimizer", **extra)(model.parameters())
        return optimizer

    def batches(self, seed: int) -> Iterator[Batch]:
        """Training batches as the loop draws them, epoch after epoch, without end."""
        for epoch in itertools.count(1):
            yield from self.data.train_batches(self.settings.batch_size, epoch, seed)

    def train(
        self,
        steps: int,
        seed: int,
        data: DataModule | ZeroedInputs | None = None,
        recorder: StepRecorder | None = None,
        model: nn.Module | None = None,
    ) -> TrainState:
        """Train `model` (by default a fresh one) for `steps` optimiser steps with the real loop; returns its state
        (and history)."""
        model = model if model is not None else self.model(seed)
        never = replace(self.settings.early_stopping, patience=None)
        settings = replace(self.settings, max_steps=steps, seed=seed, checkpoint_dir=None, early_stopping=never)
        trainer = Trainer(
            model,
            self.optimizer(model),
            Constant(),
            data or self.data,  # type: ignore[arg-type]
            self.task,
            settings,
            self.spec.objective,
            self.autocast,
            SilentProgress(),
            recorder=recorder,
        )
        return trainer.fit()

    def step_losses(self, steps: int, seed: int) -> list[float]:
        """Each step's training loss over `steps` steps of a fresh model."""
        recorder = StepLosses()
        self.train(steps, seed, recorder=recorder)
        return recorder.losses

    def first_batch(self, size: int, seed: int) -> Batch:
        """The first `size` samples of the first training batch (as the training loop draws it)."""
        batch_size = max(size, self.settings.batch_size)
        inputs, labels = next(iter(self.data.train_batches(min(batch_size, self.data.num_train), 1, seed)))
        return inputs[:size], labels[:size]
