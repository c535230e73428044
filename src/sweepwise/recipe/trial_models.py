"""A finished trial's model rebuilt from its folder: the config it ran with and its best checkpoint."""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from torch import nn

from sweepwise import configure
from sweepwise.data import DataModule
from sweepwise.training.checkpoint import load_checkpoint
from sweepwise.training.loop import BEST_CHECKPOINT


def trial_config(trial_dir: Path) -> DictConfig:
    """The composed config the trial ran with (Hydra's `.hydra/config.yaml` in its folder)."""
    config = OmegaConf.load(trial_dir / ".hydra" / "config.yaml")
    assert isinstance(config, DictConfig)  # Hydra saves a job's config as a mapping
    return config


def trial_model(trial_dir: Path, data: DataModule) -> nn.Module:
    """The trial's model with the weights of its best checkpoint, in evaluation mode on the CPU."""
    config = trial_config(trial_dir)
    model = configure.build_model(config.model, data, configure.build_task(config))
    checkpoint = load_checkpoint(trial_dir / "checkpoints" / BEST_CHECKPOINT, key=f"trial {trial_dir.name}'s best")
    model.load_state_dict(checkpoint["model"])
    return model.eval()
