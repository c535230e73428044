"""Helpers shared by the benchmarks: compose the project's config and build its parts without a Hydra app."""

from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from sweepwise.app import training_parts
from sweepwise.console import SilentProgress
from sweepwise.data import DataModule
from sweepwise.spec.run import run_spec
from sweepwise.training.loop import Trainer
from sweepwise.training.runtime import autocast_for

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def compose_config(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def build_parts(cfg: DictConfig, device: torch.device) -> tuple[DataModule, torch.nn.Module, torch.optim.Optimizer]:
    """Data, model and optimiser as `train.py` builds them."""
    parts = training_parts(cfg, run_spec(cfg), device)
    return parts.data, parts.model, parts.optimizer


def build_trainer(cfg: DictConfig, device: torch.device, probed: bool = False) -> Trainer:
    """sweepwise's training loop on the parts of `cfg`, silent, without MLflow; `probed`: with the task's step probe
    (prediction dynamics, a language model's samples), as `train.py` runs it."""
    parts = training_parts(cfg, run_spec(cfg), device)
    spec = run_spec(cfg)
    batch_size = spec.trainer.batch_size
    steps = spec.trainer.epochs * parts.data.steps_per_epoch(batch_size)
    probe = parts.task.probe(parts.data, steps, batch_size) if probed else None
    return Trainer(
        parts.model,
        parts.optimizer,
        parts.schedule,
        parts.data,
        parts.task,
        spec.trainer,
        spec.objective,
        autocast_for(device, spec.trainer.precision),
        SilentProgress(),
        probe=probe,
    )
