"""From a composed config to built parts, with one-line errors naming the config group (the values themselves are
checked once, by `sweepwise.spec`)."""

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sweepwise.errors import ConfigError, SweepwiseError, one_line


def is_sweepwise_training(cfg: DictConfig) -> bool:
    """A config of sweepwise's own training (`train.py task=train`): a sweep checks its values before the first
    trial and runs `trainer.devices` processes per trial. Another app's config, even one with a `trainer` of its
    own, is run as it is."""
    parts = ("trainer", "tracking", "objective")
    trains = OmegaConf.select(cfg, "task", default="train") == "train"
    return trains and all(OmegaConf.select(cfg, part, default=None) is not None for part in parts)


def build(node: DictConfig, group: str, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate`, reporting a bad target or argument against the config group it came from."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, SweepwiseError):
            raise cause from None
        raise ConfigError(f"{group}._target_", node.get("_target_"), one_line(cause or error)) from error
