"""From a composed config to validated settings and built parts, with one-line errors naming the key."""

from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sweepwise.errors import ConfigError, SweepwiseError, one_line
from sweepwise.training.settings import EarlyStopping, Objective, TrainerSettings


def _value(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, throw_on_missing=False)


def _number(cfg: DictConfig, key: str, kind: type, optional: bool = False) -> Any:
    value = _value(cfg, key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and value != int(value)):
        raise ConfigError(key, value, f"must be {'an integer' if kind is int else 'a number'}")
    return kind(value)


def _flag(cfg: DictConfig, key: str) -> bool:
    """A true/false setting; absent (a config written before it) is false."""
    value = _value(cfg, key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConfigError(key, value, "must be true or false")
    return value


def trainer_settings(cfg: DictConfig, resolve_paths: bool = True) -> TrainerSettings:
    """The training loop's settings, each checked; `resolve_paths=False` leaves the checkpoint folder out (it may
    name the job's output folder, which exists only once the job runs)."""
    stopping = cfg.trainer.early_stopping
    checkpoint_dir = _value(cfg, "trainer.checkpoint_dir") if resolve_paths else None
    return TrainerSettings(
        epochs=_number(cfg, "trainer.epochs", int),
        max_steps=_number(cfg, "trainer.max_steps", int, optional=True),
        batch_size=_number(cfg, "trainer.batch_size", int),
        eval_batch_size=_number(cfg, "trainer.eval_batch_size", int),
        grad_clip=_number(cfg, "trainer.grad_clip", float, optional=True),
        seed=_number(cfg, "trainer.seed", int),
        devices=1 if _value(cfg, "trainer.devices") is None else _number(cfg, "trainer.devices", int),
        compile=_flag(cfg, "trainer.compile"),
        channels_last=_flag(cfg, "trainer.channels_last"),
        checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
        early_stopping=EarlyStopping(
            patience=_number(cfg, "trainer.early_stopping.patience", int, optional=True),
            metric=stopping.metric,
            direction=stopping.direction,
            min_delta=_number(cfg, "trainer.early_stopping.min_delta", float),
        ),
    )


def is_sweepwise_training(cfg: DictConfig) -> bool:
    """A config of sweepwise's own training (`train.py task=train`): a sweep checks its values before the first
    trial and runs `trainer.devices` processes per trial. Another app's config, even one with a `trainer` of its
    own, is run as it is."""
    parts = ("trainer", "tracking", "objective")
    trains = OmegaConf.select(cfg, "task", default="train") == "train"
    return trains and all(OmegaConf.select(cfg, part, default=None) is not None for part in parts)


def check_values(cfg: DictConfig) -> None:
    """The checks a training run makes on its values before building anything (the trainer's sizes and budget,
    the learning rate, the objective, step logging): a sweep makes them on every variant of its search space, so
    that `trainer.batch_size=choice(32, 0)` stops before the first trial."""
    trainer_settings(cfg, resolve_paths=False)
    objective(cfg)
    check_learning_rate(cfg)
    log_every_n_steps(cfg)
    checkpoint_to_log(cfg)


def objective(cfg: DictConfig) -> Objective:
    return Objective(metric=_value(cfg, "objective.metric"), direction=_value(cfg, "objective.direction"))


CHECKPOINTS_TO_LOG = {"best": "best.pt", "last": "last.pt", "none": None}


def checkpoint_to_log(cfg: DictConfig) -> str | None:
    """The checkpoint file a run logs to MLflow at its end (`tracking.log_checkpoints`: best, last or none)."""
    choice = _value(cfg, "tracking.log_checkpoints") or "none"
    if choice not in CHECKPOINTS_TO_LOG:
        raise ConfigError("tracking.log_checkpoints", choice, "must be best, last or none")
    return CHECKPOINTS_TO_LOG[str(choice)]


def log_every_n_steps(cfg: DictConfig) -> int:
    """How often the training loss and learning rate are logged per optimiser step (0: per epoch only)."""
    every = _number(cfg, "tracking.log_every_n_steps", int, optional=True) or 0
    if every < 0:
        raise ConfigError("tracking.log_every_n_steps", every, "must be >= 0 (0 logs per epoch only)")
    return every


def check_learning_rate(cfg: DictConfig) -> float:
    lr: float = _number(cfg, "optimizer.lr", float)
    if lr <= 0:
        raise ConfigError("optimizer.lr", lr, "must be > 0")
    return lr


def build(node: DictConfig, group: str, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate`, reporting a bad target or argument against the config group it came from."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, SweepwiseError):
            raise cause from None
        raise ConfigError(f"{group}._target_", node.get("_target_"), one_line(cause or error)) from error


def log_model_enabled(cfg: DictConfig) -> bool:
    """`tracking.log_model`: whether a sweep logs its best trial's model as an MLflow model at its end (off for
    apps without the key)."""
    value = _value(cfg, "tracking.log_model")
    if value is not None and not isinstance(value, bool):
        raise ConfigError("tracking.log_model", value, "must be true or false")
    return bool(value)
