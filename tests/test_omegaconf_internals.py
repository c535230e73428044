"""`sweepwise.internals.omegaconf_internals` against OmegaConf's public path: the same YAML text as
`OmegaConf.to_yaml`, the same task config as a deep copy without `hydra`, and a view that resolves as the config."""

import copy
from dataclasses import dataclass, field
from enum import Enum

import pytest
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from sweepwise.internals.omegaconf_internals import shared_view, task_part, to_yaml


class Color(Enum):
    RED = 1


@dataclass
class Model:
    width: int = 4
    color: Color = Color.RED
    sizes: list[int] = field(default_factory=lambda: [1, 2])


VALUES = {
    "plain": "text",
    "looks_like_numbers": ["1", "1.5", "1e-3", "0x10", "007", ".inf", "nan"],
    "looks_like_others": ["null", "~", "true", "yes", "off", "2026-12-06", "", " padded ", "a: b", "- x", "#c"],
    "multiline": "first\nsecond\n",
    "unicode": "λ→✓",
    "numbers": [0, -1, 1.5, 1e-12, float("inf")],
    "nested": {"empty_list": [], "empty_dict": {}, "none": None, "flag": False},
    "interpolated": "${plain}",
    "missing": "???",
    "model": Model,
}


def test_yaml_text_is_omegaconfs():
    config = OmegaConf.create(VALUES)
    assert to_yaml(config) == OmegaConf.to_yaml(config)
    assert to_yaml(config.looks_like_others) == OmegaConf.to_yaml(config.looks_like_others)


@pytest.mark.parametrize("flags", [(True, False), (False, False), (True, True)], ids=["struct", "open", "readonly"])
def test_task_part_is_a_copy_without_hydra(flags: tuple[bool, bool]):
    config = OmegaConf.create({**VALUES, "hydra": {"job": {"name": "app"}}})
    OmegaConf.set_struct(config, flags[0])
    OmegaConf.set_readonly(config, flags[1])
    theirs = copy.deepcopy(config)  # what Hydra's `run_job` does
    with read_write(theirs), open_dict(theirs):
        del theirs["hydra"]
    ours = task_part(config)
    assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(theirs)
    assert (OmegaConf.is_struct(ours), OmegaConf.is_readonly(ours)) == flags
    assert OmegaConf.get_type(ours, "model") is Model
    with read_write(ours):
        ours.model.width = 5
    assert config.model.width == 4  # a copy


def test_shared_view_resolves_as_the_config_and_shares_its_node():
    config = OmegaConf.create({"name": "demo", "hydra": {"run": {"dir": "out/${name}"}, "job": {"name": "${name}"}}})
    view = shared_view(config, "hydra")
    assert isinstance(view, DictConfig) and view.hydra is not None
    assert OmegaConf.to_container(view, resolve=True) == {
        "hydra": {"run": {"dir": "out/demo"}, "job": {"name": "demo"}}
    }
    config.hydra.job.name = "changed"
    assert view.hydra.job.name == "changed"
