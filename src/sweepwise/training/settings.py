"""Plain settings of the training loop, validated once when built from the config."""

from dataclasses import dataclass
from pathlib import Path

from sweepwise.errors import ConfigError

METRICS = ("train/loss", "val/loss", "val/acc")
DIRECTIONS = ("maximize", "minimize")


@dataclass(frozen=True)
class Objective:
    """The metric a sweep optimises and whether larger is better."""

    metric: str = "val/acc"
    direction: str = "maximize"

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ConfigError("objective.metric", self.metric, f"must be one of {', '.join(METRICS)}")
        if self.direction not in DIRECTIONS:
            raise ConfigError("objective.direction", self.direction, "must be maximize or minimize")

    def improves(self, value: float, best: float | None, min_delta: float = 0.0) -> bool:
        if best is None:
            return True
        return value > best + min_delta if self.direction == "maximize" else value < best - min_delta


@dataclass(frozen=True)
class EarlyStopping:
    """Stop after `patience` epochs without an improvement of `min_delta` in `metric`; patience null = off."""

    patience: int | None = None
    metric: str = "val/loss"
    direction: str = "minimize"
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if self.patience is not None and self.patience < 1:
            raise ConfigError("trainer.early_stopping.patience", self.patience, "must be >= 1 or null (off)")
        Objective(self.metric, self.direction)

    @property
    def criterion(self) -> Objective:
        return Objective(self.metric, self.direction)


@dataclass(frozen=True)
class TrainerSettings:
    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 64
    eval_batch_size: int = 1024
    grad_clip: float | None = None
    seed: int = 0
    checkpoint_dir: Path | None = None
    early_stopping: EarlyStopping = EarlyStopping()
    devices: int = 1  # processes training one run together, each on an equal slice of every batch
    compile: bool = False  # torch.compile the model for training steps
    channels_last: bool = False  # image models and batches in the channels-last memory layout

    def __post_init__(self) -> None:
        if self.max_steps is None and self.epochs < 1:
            raise ConfigError("trainer.epochs", self.epochs, "must be >= 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError("trainer.max_steps", self.max_steps, "must be >= 1 or null (use epochs)")
        if self.batch_size < 1:
            raise ConfigError("trainer.batch_size", self.batch_size, "must be >= 1")
        if self.eval_batch_size < 1:
            raise ConfigError("trainer.eval_batch_size", self.eval_batch_size, "must be >= 1")
        if self.devices < 1:
            raise ConfigError("trainer.devices", self.devices, "must be >= 1")
        if self.batch_size % self.devices:
            raise ConfigError("trainer.devices", self.devices, f"must divide trainer.batch_size={self.batch_size}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ConfigError("trainer.grad_clip", self.grad_clip, "must be > 0 or null (off)")
