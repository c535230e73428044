"""Hydra's `run_job` for a config composed for this one job, without its four whole-config copies.

`hydra.core.utils.run_job` may not change the config it is given, so it copies it whole four times (two masked
copies for `HydraConfig`, the task config, the Hydra config): about half of a short trial's cost in a sweep.
A sweep composes a fresh config for every job, so this takes ownership of it instead: `HydraConfig` shares its
`hydra` node and only the task's own keys are copied. Everything else is what `run_job` does: the output
directory, `hydra.runtime.output_dir`, `.hydra/{config,hydra,overrides}.yaml`, logging, `hydra.job.chdir`,
`hydra.job.env_set`, the callbacks and the `JobReturn`.
"""

import os
from pathlib import Path
from typing import Any, cast

import yaml
from hydra import version
from hydra._internal.deprecation_warning import deprecation_warning
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobRuntime, JobStatus, _flush_loggers, configure_log, env_override
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, flag_override, open_dict, read_write
from omegaconf._utils import OmegaConfDumper


# PyYAML has no type hints, and its C emitter is there only when libyaml was built
class _YamlDumper(getattr(yaml, "CDumper", yaml.Dumper)):  # type: ignore[misc]
    """OmegaConf's YAML dumper on libyaml's emitter, which is 5x faster than the pure-Python one."""


_YamlDumper.add_representer(str, OmegaConfDumper.str_representer)


def to_yaml(config: Any) -> str:
    """`OmegaConf.to_yaml(config)`, the same text, faster."""
    container = OmegaConf.to_container(config, enum_to_str=True)
    text: str = yaml.dump(container, Dumper=_YamlDumper, default_flow_style=False, allow_unicode=True, sort_keys=False)
    return text


def hydra_view(config: DictConfig) -> DictConfig:
    """What `HydraConfig.set_config(config)` stores, but sharing the `hydra` node instead of copying it."""
    OmegaConf.set_readonly(config.hydra, True)
    view = OmegaConf.create({})
    with flag_override(view, "no_deepcopy_set_nodes", True):
        view["hydra"] = config._get_node("hydra")
    view.hydra._set_parent(config)  # as Hydra does: the hydra node may interpolate into the task's keys
    return view


def task_part(config: DictConfig) -> DictConfig:
    """A copy of `config` without its `hydra` node, with the same flags (struct mode above all)."""
    keys = cast(list[str], [key for key in config if key != "hydra"])  # a job config's keys are names
    task = OmegaConf.masked_copy(config, keys)
    assert config._metadata.flags is not None  # OmegaConf's metadata makes it a dict
    for flag, value in config._metadata.flags.items():
        task._set_flag(flag, value)
    return task


def run_owned_job(hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> JobReturn:
    """Run `task_function` as one job of a multirun on `config`, which this call takes over."""
    callbacks = hydra_context.callbacks
    old_cwd, saved_hydra_config = os.getcwd(), HydraConfig.instance().cfg
    # sweep.dir and subdir may use the hydra: resolver; Hydra types `cfg` as HydraConf but keeps a DictConfig view
    # there (as `HydraConfig.set_config` does)
    HydraConfig.instance().cfg = hydra_view(config)  # type: ignore[assignment]
    output_dir = os.path.join(str(OmegaConf.select(config, "hydra.sweep.dir")), str(config.hydra.sweep.subdir))
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = os.path.abspath(output_dir)
    hydra_config = HydraConfig.instance().cfg
    assert isinstance(hydra_config, DictConfig)  # the view set above (Hydra's `run_job` asserts the same)
    chdir = None
    try:
        result = JobReturn()
        result.cfg = task_config = task_part(config)
        result.hydra_cfg = hydra_config
        result.overrides = list(config.hydra.overrides.task)
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        chdir = config.hydra.job.chdir
        if chdir is None:
            chdir = not version.base_at_least("1.2")
            if chdir:
                deprecation_warning("Future Hydra versions will no longer change working directory at job runtime.")
        if chdir:
            os.chdir(output_dir)
        result.working_dir = os.getcwd()
        configure_log(config.hydra.job_logging, config.hydra.verbose)
        if config.hydra.output_subdir is not None:
            save_to = Path(config.hydra.runtime.output_dir) / str(config.hydra.output_subdir)
            save_to.mkdir(parents=True, exist_ok=True)
            parts = {"config": task_config, "hydra": hydra_config, "overrides": config.hydra.overrides.task}
            for name, part in parts.items():
                (save_to / f"{name}.yaml").write_text(to_yaml(part), encoding="utf-8")
        with env_override(config.hydra.job.env_set):
            callbacks.on_job_start(config=config, task_function=task_function)
            try:
                result.return_value = task_function(task_config)
                result.status = JobStatus.COMPLETED
            except Exception as error:
                result.return_value, result.status = error, JobStatus.FAILED
        result.task_name = JobRuntime.instance().get("name")
        _flush_loggers()
        callbacks.on_job_end(config=config, job_return=result)
        return result
    finally:
        HydraConfig.instance().cfg = saved_hydra_config
        if chdir:
            os.chdir(old_cwd)
