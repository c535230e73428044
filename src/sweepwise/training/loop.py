"""The training loop: plain PyTorch, readable top to bottom, blind to Optuna and MLflow (they are callbacks)."""

import math
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import torch
from torch import nn

from sweepwise.data import DataModule
from sweepwise.errors import TrainingDiverged
from sweepwise.schedules import Schedule
from sweepwise.spec.schema import Objective, TrainerSettings
from sweepwise.tasks import Task
from sweepwise.tasks.task import StepProbe
from sweepwise.training.checkpoint import save_checkpoint
from sweepwise.training.distributed import Ranks
from sweepwise.training.optimizer_settings import apply_optimizer_settings, optimizer_settings
from sweepwise.training.runtime import restore_rng_state, rng_state
from sweepwise.training.whole_steps import whole_step

# Without clipping the gradient norm costs a reduction per step; sampling every few steps keeps it near free.
GRAD_NORM_EVERY = 8
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"
RECORDED_STEPS = "recorded_steps"
PROBE_STATE = "probe"
SINGLE_PROCESS = Ranks()


def compiled(network: nn.Module) -> nn.Module:
    """`torch.compile`. Its CPU backend imports a module of torch's own that warns about torch's own deprecated
    decorator; under `-W error` (a user's test harness) that warning would fail the trial, so the module is imported
    first with that one warning silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.script_method` is deprecated", DeprecationWarning)
        import torch.utils.mkldnn
    return cast(nn.Module, torch.compile(network))


def planned_steps(settings: TrainerSettings, steps_per_epoch: int) -> int:
    """The optimiser steps a run plans: `max_steps` when set, else all of its epochs."""
    return settings.max_steps or settings.epochs * steps_per_epoch


class EpochCallback(Protocol):
    def __call__(self, epoch: int, metrics: dict[str, float], last: bool, /) -> str | None:
        """Called after each epoch's metrics and checkpoint (`last`: the training ends with this epoch); return a
        reason to stop training, or None."""


class StepRecorder(Protocol):
    """Records the loss and learning rate of every `every`-th optimiser step (e.g. to log them per step)."""

    every: int

    def record_step(self, step: int, loss: torch.Tensor, lr: float) -> None: ...

    def pending(self) -> list[tuple[int, float, float]]:
        """The steps recorded and not yet written (step, loss, lr): kept in the epoch's checkpoint."""
        ...

    def restore(self, pending: list[tuple[int, float, float]]) -> None:
        """Take back the steps a checkpoint kept, so that the replayed epoch writes them."""
        ...


class Progress(Protocol):
    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None: ...
    def advance(self, step: int, loss: torch.Tensor, lr: float) -> None: ...
    def end_epoch(self, metrics: dict[str, float]) -> None: ...


@dataclass
class TrainState:
    """Everything besides model and optimiser that a resumed run needs to continue identically."""

    epoch: int = 0
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_value: float | None = None
    best_epoch: int = 0
    stop_best: float | None = None
    epochs_without_gain: int = 0
    stop_reason: str | None = None


class Trainer:
    """Trains `model` on `data` for `task` (its loss and metrics), evaluating, checkpointing and calling back after
    every epoch.

    As rank r > 0 of a run on several processes (`ranks`) it only trains its slice of each batch and calls back
    with no metrics: rank 0 evaluates and checkpoints, and its word to stop holds for every rank."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule,
        data: DataModule,
        task: Task,
        settings: TrainerSettings,
        objective: Objective,
        autocast: Callable[[], ContextManager[None]],
        progress: Progress,
        callbacks: Sequence[EpochCallback] = (),
        checkpoint_extra: dict[str, Any] | None = None,
        probe: StepProbe | None = None,
        recorder: StepRecorder | None = None,
        ranks: Ranks = SINGLE_PROCESS,
    ) -> None:
        self.model, self.optimizer, self.schedule, self.data, self.task = model, optimizer, schedule, data, task
        self.settings, self.objective, self.autocast = settings, objective, autocast
        self.progress, self.callbacks, self.probe, self.recorder = progress, list(callbacks), probe, recorder
        self.checkpoint_extra, self.ranks = dict(checkpoint_extra or {}), ranks
        self.state = TrainState()
        self._replay_last_epoch = False
        self.steps_per_epoch = data.steps_per_epoch(settings.batch_size)
        self.total_steps = planned_steps(settings, self.steps_per_epoch)
        self.epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])

    def resume(self, checkpoint: dict[str, Any]) -> None:
        """Continue from a `last.pt` checkpoint: weights, optimiser state, schedule position, history, what the
        probe recorded, and RNG state. The optimiser's settings (learning rate, weight decay, momentum) stay the
        config's: a run that goes on from another's checkpoint with other hyperparameters (population-based
        training) trains with its own."""
        self.model.load_state_dict(checkpoint["model"])
        configured = optimizer_settings(self.optimizer)
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        apply_optimizer_settings(self.optimizer, configured)
        self.state = TrainState(**checkpoint["train_state"])
        restore_rng_state(checkpoint["rng"])
        if self.recorder is not None:
            self.recorder.restore(checkpoint.get(RECORDED_STEPS, []))
        if self.probe is not None and checkpoint.get(PROBE_STATE) is not None:
            self.probe.load_state_dict(checkpoint[PROBE_STATE])
        self._replay_last_epoch = True

    def fit(self) -> TrainState:
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        network = self.ranks.wrap(self.model)
        if self.settings.compile:
            network = compiled(network)
        self.model.train()
        if self._replay_last_epoch and self.state.history:
            # the process may have stopped between saving the checkpoint and the callbacks: callbacks skip
            # what they have already seen
            *_, last = self.state.history
            self._call_back(int(last["epoch"]), {key: value for key, value in last.items() if key != "epoch"})
        self.state.stop_reason = self.ranks.agree(self.state.stop_reason)
        while self.state.epoch < self.epochs and self.state.step < self.total_steps and not self.state.stop_reason:
            epoch = self.state.epoch + 1
            train_metrics = self._train_epoch(epoch, parameters, network)
            self.state.epoch = epoch
            self._call_back(epoch, self._end_epoch(epoch, train_metrics) if self.ranks.main else {})
            self.state.stop_reason = self.ranks.agree(self.state.stop_reason)
        return self.state

    def _end_epoch(self, epoch: int, train_metrics: dict[str, float]) -> dict[str, float]:
        """Evaluate, keep the history and the best, and checkpoint (rank 0 alone): the epoch's metrics."""
        metrics = {
            **train_metrics,
            **self.task.evaluate(self.model, self.data, self.settings.eval_batch_size, self.autocast),
        }
        self.state.history.append({"epoch": epoch, **metrics})
        self._update_best(epoch, metrics)
        self._update_early_stopping(metrics)
        # the epoch's line once its work is kept: a process stopped before the checkpoint replays the epoch,
        # and the line printed before the stop would then show twice
        with whole_step():
            self._save(LAST_CHECKPOINT)
            self.progress.end_epoch(metrics)
        return metrics

    def _call_back(self, epoch: int, metrics: dict[str, float]) -> None:
        """Every rank calls its callbacks (a report to the trial is a collective); the others' metrics are empty.
        The last epoch is the planned one, or one after which early stopping ends the training."""
        last = epoch >= self.epochs or self.state.step >= self.total_steps or self.state.stop_reason is not None
        for callback in self.callbacks:
            self.state.stop_reason = self.state.stop_reason or callback(epoch, metrics, last)

    def _train_epoch(self, epoch: int, parameters: list[nn.Parameter], network: nn.Module) -> dict[str, float]:
        settings = self.settings
        steps = min(self.steps_per_epoch, self.total_steps - self.state.step)
        self.progress.start_epoch(epoch, self.epochs, steps)
        loss_sum = torch.zeros((), device=self.data.device)
        grad_norm_sum = torch.zeros((), device=self.data.device)
        grad_norm_count = 0
        lr = 0.0
        started = time.perf_counter()
        batches = self.data.train_batches(settings.batch_size, epoch, settings.seed)
        for index, (inputs, labels) in zip(range(steps), batches, strict=False):
            lr = self._set_learning_rate()
            if settings.channels_last and inputs.dim() == 4:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            with self.autocast():
                loss = self.task.loss(network(inputs), labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
            if settings.grad_clip is not None:
                grad_norm_sum += nn.utils.clip_grad_norm_(parameters, settings.grad_clip)
                grad_norm_count += 1
            elif index % GRAD_NORM_EVERY == 0:
                grad_norm_sum += nn.utils.get_total_norm([p.grad for p in parameters if p.grad is not None])
                grad_norm_count += 1
            self.optimizer.step()
            loss_sum += loss.detach()
            self.state.step += 1
            self.progress.advance(self.state.step, loss, lr)
            if self.probe is not None and self.state.step % self.probe.every == 0:
                self.probe(self.state.step, self.model)
            if self.recorder is not None and self.state.step % self.recorder.every == 0:
                self.recorder.record_step(self.state.step, loss.detach(), lr)
        if self.data.device.type == "cuda":
            torch.cuda.synchronize(self.data.device)
        elapsed = time.perf_counter() - started
        train_loss = self.ranks.mean(loss_sum).item() / steps
        if not math.isfinite(train_loss):
            raise TrainingDiverged(f"train/loss became {train_loss} in epoch {epoch}")
        return {
            "train/loss": train_loss,
            "train/grad_norm": grad_norm_sum.item() / grad_norm_count,
            "train/lr": lr,
            "train/samples_per_sec": steps * settings.batch_size / elapsed,
        }

    def _set_learning_rate(self) -> float:
        """Set each group's lr from the schedule at the middle of the coming step, as a fraction of training."""
        multiplier = self.schedule((self.state.step + 0.5) / self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * multiplier
        lr: float = self.optimizer.param_groups[0]["lr"]
        return lr

    def _update_best(self, epoch: int, metrics: dict[str, float]) -> None:
        value = metrics[self.objective.metric]
        if self.objective.improves(value, self.state.best_value):
            self.state.best_value, self.state.best_epoch = value, epoch
            self._save(BEST_CHECKPOINT)

    def _update_early_stopping(self, metrics: dict[str, float]) -> None:
        rule = self.settings.early_stopping
        if rule.patience is None:
            return
        value = metrics[rule.metric]
        if rule.criterion.improves(value, self.state.stop_best, rule.min_delta):
            self.state.stop_best, self.state.epochs_without_gain = value, 0
            return
        self.state.epochs_without_gain += 1
        if self.state.epochs_without_gain >= rule.patience:
            self.state.stop_reason = f"early stopping: {rule.metric} did not improve for {rule.patience} epochs"

    def _save(self, name: str) -> None:
        folder = self.settings.checkpoint_folder
        if folder is None:
            return
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "train_state": vars(self.state).copy(),
            "rng": rng_state(),
            # the epoch's recorded steps, written by the callbacks that follow the checkpoint: if the process stops
            # before they run, the resumed run's replay of this epoch writes them
            RECORDED_STEPS: self.recorder.pending() if self.recorder is not None else [],
            PROBE_STATE: self.probe.state_dict() if self.probe is not None else None,  # what it drew so far
            **self.checkpoint_extra,
        }
        save_checkpoint(state, folder / name)
