"""What the fast Hydra job needs of OmegaConf beyond its public API. Guarded by `tests/test_omegaconf_internals.py`
(and, as part of the job, `tests/test_hydra_internals.py`).

- `DictConfig._get_node` and `Node._set_parent`: to put a config's `hydra` node into the `HydraConfig` view without
  copying it (Hydra's `HydraConfig.set_config` deep-copies the whole config twice for that).
- `Container._metadata.flags` and `_set_flag`: a copy of the task's keys keeps every flag of the config (struct
  mode above all), as Hydra's deep copy of the whole config does; `OmegaConf.masked_copy` drops them.
- `omegaconf._utils.OmegaConfDumper.str_representer`: OmegaConf's quoting of strings, on libyaml's emitter, writes
  `.hydra/*.yaml` 5x faster than `OmegaConf.to_yaml` (pure-Python PyYAML) with the same text.

Together with Hydra's part (`hydra_internals`), these save about 25 ms of every trial (docs/benchmarks.md).
"""

from typing import Any, cast

import yaml
from omegaconf import DictConfig, OmegaConf, flag_override
from omegaconf._utils import OmegaConfDumper


# PyYAML has no type hints, and its C emitter is there only when libyaml was built
class _YamlDumper(getattr(yaml, "CDumper", yaml.Dumper)):  # type: ignore[misc]
    """OmegaConf's YAML dumper on libyaml's emitter."""


_YamlDumper.add_representer(str, OmegaConfDumper.str_representer)


def to_yaml(config: Any) -> str:
    """`OmegaConf.to_yaml(config)`, the same text, faster."""
    container = OmegaConf.to_container(config, enum_to_str=True)
    text: str = yaml.dump(container, Dumper=_YamlDumper, default_flow_style=False, allow_unicode=True, sort_keys=False)
    return text


def shared_view(config: DictConfig, key: str) -> DictConfig:
    """A config holding `config[key]` itself under `key` (not a copy), the node still a child of `config` so that
    its interpolations into `config`'s other keys resolve as before."""
    view = OmegaConf.create({})
    with flag_override(view, "no_deepcopy_set_nodes", True):
        view[key] = config._get_node(key)
    view[key]._set_parent(config)
    return view


def task_part(config: DictConfig) -> DictConfig:
    """A copy of `config` without its `hydra` node, with the same flags (struct mode above all)."""
    keys = cast(list[str], [key for key in config if key != "hydra"])  # a job config's keys are names
    task = OmegaConf.masked_copy(config, keys)
    assert config._metadata.flags is not None  # OmegaConf's metadata makes it a dict
    for flag, value in config._metadata.flags.items():
        task._set_flag(flag, value)
    return task
