"""PyTorch Lightning's way into a sweep (`pip install sweepwise[lightning]`): a callback that reports each epoch's
metrics to the trial, stops the training when the sweep prunes it (before its last epoch), and keeps the trial's
last checkpoint in the trial's folder, for an interrupted or requeued trial to resume from.

    callback = SweepwiseCallback(monitor="val/acc")
    trainer = lightning.Trainer(callbacks=[callback], ...)
    trainer.fit(model, datamodule=data, ckpt_path=callback.resume_from())

Every rank runs the callback: rank 0 logs and reports, and its word to stop reaches every rank (strategies
`ddp_spawn` and `ddp` alike; in a sweep, `ddp_spawn`, since `ddp` starts its other ranks by running the command
line again). The trial is asked for in each hook, not kept: under `ddp_spawn` the callback is copied into the
rank processes, where the trial is the one the sweep handed down.
"""

import multiprocessing
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from sweepwise.training.optimizer_settings import apply_optimizer_settings, optimizer_settings
from sweepwise.training.runtime import restore_rng_state, rng_state
from sweepwise.trial_api import current_trial

CHECKPOINT = "last.ckpt"


class SweepwiseCallback(pl.Callback):
    """Report `monitor` (and every other scalar Lightning has logged) to the trial after each training epoch that
    ran its validation (every epoch, unless `check_val_every_n_epoch` says otherwise; the others' are logged)."""

    def __init__(self, monitor: str, checkpoint: str = CHECKPOINT) -> None:
        self.monitor, self.checkpoint = monitor, checkpoint
        self.validated_epoch: int | None = None
        self.validation_keys: set[str] = set()  # what validation logs; Lightning keeps its values between runs
        self.before_validation: dict[str, float] = {}
        self.configured: list[list[dict[str, Any]]] = []  # each optimiser's settings before a checkpoint's load
        self.trained_with: list[list[dict[str, Any]]] = []  # ... and those its checkpoint was trained with

    def resume_from(self) -> str | None:
        """The trial's last checkpoint when this attempt continues an interrupted one (else None: start afresh),
        for `Trainer.fit(ckpt_path=...)`."""
        trial = current_trial()
        path = trial.folder / self.checkpoint
        return str(path) if trial.resuming and path.is_file() else None

    def state_dict(self) -> dict[str, Any]:
        """The random generators' states, kept in the trial's checkpoint: Lightning's own holds none, and the code
        seeds again as it starts, so a resumed training would otherwise shuffle and drop out afresh. And the
        optimisers' settings this training was configured with, which a resumed one rescales its rates from."""
        return {"rng": rng_state(), "optimizer_settings": self.configured}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A resumed training draws from where the interrupted one stopped: its result is the uninterrupted one's."""
        if "rng" in state_dict:
            restore_rng_state(state_dict["rng"])
        self.trained_with = state_dict.get("optimizer_settings") or []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Keep the optimisers' settings as `configure_optimizers` made them: Lightning loads a checkpoint's after."""
        self.configured = [optimizer_settings(optimizer) for optimizer in trainer.optimizers]

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A training resumed from a checkpoint trains with this trial's optimiser settings, not the checkpoint's:
        under population-based training it goes on from another member's work with explored hyperparameters."""
        trained_with: list[list[dict[str, Any]] | None] = [*self.trained_with] or [None] * len(self.configured)
        for optimizer, settings, before in zip(trainer.optimizers, self.configured, trained_with, strict=True):
            schedulers = [c.scheduler for c in trainer.lr_scheduler_configs if c.scheduler.optimizer is optimizer]
            apply_optimizer_settings(optimizer, settings, schedulers, before)
        self.trained_with = []

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.before_validation = scalars(trainer.callback_metrics)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        after = scalars(trainer.callback_metrics)
        self.validation_keys |= {key for key, value in after.items() if self.before_validation.get(key) != value}
        if not trainer.sanity_checking:
            self.validated_epoch = trainer.current_epoch

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        trial = current_trial()
        epoch = trainer.current_epoch + 1
        metrics = scalars(trainer.callback_metrics)
        if trainer.enable_validation and self.validated_epoch != trainer.current_epoch:
            # no validation this epoch (`check_val_every_n_epoch`): nothing to judge it by, and its training's
            # metrics beside the last validation's values, which are not this epoch's
            trial.log(epoch, {key: value for key, value in metrics.items() if key not in self.validation_keys})
        else:
            if self.monitor is not None and self.monitor not in metrics:  # named as the code named it
                raise ValueError(
                    f"SweepwiseCallback(monitor={self.monitor!r}) is not among the metrics {sorted(metrics)}"
                )
            if trial.report(epoch, metrics, objective=self.monitor, last=finishing(trainer, epoch)):
                trainer.should_stop = True
        # saved once the epoch is reported: a stop in between trains the epoch again on resume instead of losing
        # its report. Every rank calls it, rank 0 writes the whole training state (as Lightning's last.ckpt does)
        trainer.save_checkpoint(Path(trial.folder) / self.checkpoint, weights_only=False)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        current_trial().end(exception)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """In a process Lightning spawned (`ddp_spawn`), a run of the code's own ends with its fit: such a process
        never reaches its exit handlers. Elsewhere it ends with the process, so that what the code logs after
        `fit` (a test's metrics) goes to the same run."""
        if stage == "fit" and multiprocessing.parent_process() is not None:
            current_trial().end()


def finishing(trainer: pl.Trainer, epoch: int) -> bool:
    """Whether `epoch` ends the training (its `max_epochs`, or `max_steps` reached): the last report, which no
    pruner stops, so that a trial that trained to the end completes."""
    steps_done = trainer.max_steps not in (None, -1) and trainer.global_step >= trainer.max_steps
    return steps_done or (trainer.max_epochs not in (None, -1) and epoch >= trainer.max_epochs)


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """Lightning's logged metrics that are single numbers, as floats."""
    found = {}
    for key, value in metrics.items():
        if (isinstance(value, torch.Tensor) and value.numel() == 1) or isinstance(value, int | float):
            found[key] = float(value)
    return found
