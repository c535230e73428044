"""From a composed config to built parts, with one-line errors naming the config group (the values themselves are
checked once, by `sweepwise.spec`)."""

import inspect
from typing import TYPE_CHECKING, Any

from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf

from sweepwise.errors import ConfigError, SweepwiseError, one_line

if TYPE_CHECKING:  # building parts imports torch: the sweep's process imports this module without it
    from torch import nn

    from sweepwise.data import DataModule
    from sweepwise.tasks import Task


def is_sweepwise_training(cfg: DictConfig) -> bool:
    """A config of sweepwise's own training (`train.py mode=train`): a sweep checks its values before the first
    trial and runs `trainer.devices` processes per trial. Another app's config, even one with a `trainer` of its
    own, is run as it is."""
    parts = ("trainer", "tracking", "objective")
    trains = OmegaConf.select(cfg, "mode", default="train") == "train"
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


def build_task(cfg: DictConfig) -> "Task":
    """The config's task (`task` group); classification for a config saved before tasks were a group."""
    from sweepwise.tasks import Classification, Task

    node = OmegaConf.select(cfg, "task", default=None)
    task = build(node, "task") if isinstance(node, DictConfig) else Classification()
    if not isinstance(task, Task):
        raise ConfigError("task._target_", node.get("_target_"), "must build a sweepwise.tasks.Task")
    return task


def build_data(node: DictConfig, task: "Task") -> "DataModule":
    """The data for `task`: a loader that serves several tasks (`data=csv`) is told which (its `task` argument);
    `task` then checks that the targets suit it."""
    extra = {"task": task.name} if "task" in _arguments(node) else {}
    data: DataModule = build(node, "data", **extra)
    task.check_data(data, f"data._target_={node.get('_target_')}")
    return data


def build_model(node: DictConfig, data: "DataModule", task: "Task") -> "nn.Module":
    """The model for `data` and `task`: it receives `input_shape` and `num_outputs` (a model written for
    classification alone, taking `num_classes` by name, gets that instead)."""
    named = _arguments(node)
    size = "num_classes" if "num_classes" in named and "num_outputs" not in named else "num_outputs"
    model: nn.Module = build(node, "model", input_shape=data.input_shape, **{size: task.outputs(data)})
    task.check_model(model, data, str(node.get("_target_")))
    return model


def _arguments(node: DictConfig) -> set[str]:
    """The named parameters of the callable `node._target_` names (none when it cannot be found: building it then
    reports that)."""
    try:
        return set(inspect.signature(get_object(str(node.get("_target_")))).parameters)
    except (ImportError, AttributeError, ValueError, TypeError):
        return set()
