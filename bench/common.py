"""Helpers shared by the benchmarks: compose the project's config and build its parts without a Hydra app."""

from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from sweepwise import configure
from sweepwise.console import SilentProgress
from sweepwise.data import DataModule
from sweepwise.training.loop import Trainer
from sweepwise.training.runtime import autocast_for, seed_everything

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def compose_config(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def build_parts(cfg: DictConfig, device: torch.device) -> tuple[DataModule, torch.nn.Module, torch.optim.Optimizer]:
    """Data, model and optimiser as `train.py` builds them, from seed 0."""
    seed_everything(cfg.trainer.seed, deterministic=True)
    data = configure.build(cfg.data, "data").to(device)
    model = configure.build(cfg.model, "model", input_shape=data.input_shape, num_classes=data.num_classes).to(device)
    optimizer = configure.build(cfg.optimizer, "optimizer")(model.parameters())
    return data, model, optimizer


def build_trainer(cfg: DictConfig, device: torch.device) -> Trainer:
    """sweepwise's training loop on the parts of `cfg`, silent, without MLflow."""
    data, model, optimizer = build_parts(cfg, device)
    return Trainer(
        model,
        optimizer,
        configure.build(cfg.schedule, "schedule"),
        data,
        configure.trainer_settings(cfg),
        configure.objective(cfg),
        autocast_for(device, cfg.trainer.precision),
        SilentProgress(),
    )
