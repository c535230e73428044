"""Helpers shared by the benchmarks: compose the project's config and build its parts without a Hydra app."""

from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from sweepwise import configure
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
    data, model, optimizer, _ = training_parts(cfg, run_spec(cfg), device)
    return data, model, optimizer


def build_trainer(cfg: DictConfig, device: torch.device) -> Trainer:
    """sweepwise's training loop on the parts of `cfg`, silent, without MLflow."""
    data, model, optimizer = build_parts(cfg, device)
    spec = run_spec(cfg)
    return Trainer(
        model,
        optimizer,
        configure.build(cfg.schedule, "schedule"),
        data,
        spec.trainer,
        spec.objective,
        autocast_for(device, spec.trainer.precision),
        SilentProgress(),
    )
