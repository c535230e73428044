"""Hydra's job set-up and override application for a sweep's trials, through Hydra's private API. Guarded by
`tests/test_hydra_internals.py`, which runs each beside Hydra's public path on the same configs and compares all
they produce.

- `run_owned_job` is `hydra.core.utils.run_job` for a config composed for this one job, without its four
  whole-config copies. `run_job` may not change the config it is given, so it copies it whole four times (two
  masked copies for `HydraConfig`, the task config, the Hydra config): ~25 ms of a no-op trial, about half of a
  short trial's cost in a sweep (docs/benchmarks.md). A sweep composes a fresh config for every job, so this takes
  ownership of it instead: `HydraConfig` shares its `hydra` node and only the task's own keys are copied.
  Everything else is what `run_job` does: the output directory, `hydra.runtime.output_dir`,
  `.hydra/{config,hydra,overrides}.yaml`, logging, `hydra.job.chdir` (and its warning under version_base 1.1),
  `hydra.job.env_set`, the callbacks and the `JobReturn`. It uses Hydra's private `_flush_loggers` and
  `hydra._internal.deprecation_warning`, which `run_job` calls.
- `apply_overrides` and `overrides_dirname` are what `ConfigLoaderImpl.load_sweep_config` does after composing:
  `SweepComposer` (`sweepwise.sweep.trial.compose`) composes the config files once per set of config-group
  overrides and applies each trial's value overrides with them (~80 ms of Hydra's composition saved per trial).
  `is_config_group` asks Hydra's config repository, which is how Hydra itself tells a group from a value.
- `raised_by` reads a failed `JobReturn`'s exception from its private field, as `return_value` does.
- `answer_to_plugin_name` adds a name to the table in which Hydra looks up a plugin's `_target_`, for a class that
  is already a plugin: Hydra's public `register` files a class under its own module and name only. Guarded by the
  sweep in tests/test_migration.py of a config that names hydra-optuna-sweeper's class.
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from hydra import version
from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra._internal.deprecation_warning import deprecation_warning
from hydra.core.config_loader import ConfigLoader
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.types import Override
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobRuntime, JobStatus, _flush_loggers, configure_log, env_override
from hydra.plugins.plugin import Plugin
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from sweepwise.internals.omegaconf_internals import shared_view, task_part, to_yaml

# the `_target_` of Hydra's own `basic` launcher (`hydra/launcher=basic`), a class in Hydra's private package
BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
# the warning Hydra's `run_job` gives when a job changes directory only because version_base is below 1.2
CHDIR_WARNING = """\
Future Hydra versions will no longer change working directory at job runtime by default.
See https://hydra.cc/docs/1.2/upgrades/1.1_to_1.2/changes_to_job_working_dir/ for more information."""


def is_config_group(loader: ConfigLoader, name: str) -> bool:
    """Whether `name` (`model`, `db/engine`) is a config group of the app's config search path."""
    return cast(ConfigLoaderImpl, loader).repository.group_exists(name)  # Hydra's only config loader


def raised_by(returned: JobReturn) -> BaseException | None:
    """What a job's task raised, read without the "Error executing job" note that Hydra's `return_value` writes
    to stderr (a trial its pruner stopped has failed in no sense)."""
    failed = returned.status == JobStatus.FAILED and isinstance(returned._return_value, BaseException)
    return returned._return_value if failed else None


def answer_to_plugin_name(name: str, plugin: type[Plugin]) -> None:
    """Make a config's `_target_: <name>` instantiate `plugin`, unless a plugin of that name is installed."""
    Plugins.instance().class_name_to_class.setdefault(name, plugin)


def apply_overrides(overrides: Sequence[Override], config: DictConfig) -> None:
    """Apply parsed value overrides (`a.b=1`, `+c=2`, `++d=3`, `~e`) to `config` in place, as Hydra's composition
    does, with the same errors."""
    ConfigLoaderImpl._apply_overrides_to_config(list(overrides), config)


def overrides_dirname(task_overrides: Sequence[Override], config: DictConfig) -> str:
    """`hydra.job.override_dirname` for these task overrides, as `config`'s `hydra.job.config.override_dirname`
    settings shape it."""
    settings = config.hydra.job.config.override_dirname
    return get_overrides_dirname(
        overrides=list(task_overrides),
        kv_sep=settings.kv_sep,
        item_sep=settings.item_sep,
        exclude_keys=settings.exclude_keys,
    )


def job_output_dir(config: DictConfig) -> str:
    """A multirun job's output folder, as `run_job` makes it: `hydra.sweep.dir` / `hydra.sweep.subdir`."""
    return os.path.join(
        str(OmegaConf.select(config, "hydra.sweep.dir")), str(OmegaConf.select(config, "hydra.sweep.subdir"))
    )


def run_owned_job(hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> JobReturn:
    """Run `task_function` as one job of a multirun on `config`, which this call takes over."""
    callbacks = hydra_context.callbacks
    old_cwd, saved_hydra_config = os.getcwd(), HydraConfig.instance().cfg
    # sweep.dir and subdir may use the hydra: resolver. Hydra types `cfg` as HydraConf but keeps a DictConfig view
    # there, as `HydraConfig.set_config` does (and makes it read-only).
    OmegaConf.set_readonly(config.hydra, True)
    HydraConfig.instance().cfg = shared_view(config, "hydra")  # type: ignore[assignment]
    output_dir = job_output_dir(config)
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
                deprecation_warning(message=CHDIR_WARNING)
        if chdir:
            os.chdir(output_dir)
        result.working_dir = output_dir if chdir else os.getcwd()
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
