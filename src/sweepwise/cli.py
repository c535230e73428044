"""The command line around a Hydra app: a mistyped group option, an override Hydra cannot parse or apply, a
missing or malformed config file each cost one clear line instead of Hydra's multi-line report."""

import gc
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep
from hydra.errors import HydraException, OverrideParseException
from omegaconf.errors import OmegaConfBaseException

from hydra_plugins.sweepwise_plugins.config import PRUNERS, SAMPLERS, SCHEDULES
from sweepwise.errors import one_line
from sweepwise.spec.convert import compose_value_error

# what train.py does (`mode=`): train, the recipe's checks alone, the data report
MODES = ("train", "preflight", "inspect")
PLUGIN_GROUPS = {
    "hydra/sweeper/sampler": SAMPLERS,
    "hydra/sweeper/pruner": PRUNERS,
    "hydra/sweeper/schedule": SCHEDULES,
}
SEARCH_PATH_FLAGS = ("--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn")
FULL_ERROR = "HYDRA_FULL_ERROR"
BASIC_SWEEPER_REFUSAL = "BasicSweeper does not support sweep type"


def unknown_group_choice(argv: Sequence[str], conf_dir: Path) -> str | None:
    """The error line for the first `group=option` override whose option file `conf_dir/group/` lacks, if any.

    Only plain string choices of groups that `conf_dir` has are checked; sweeps over choices, package overrides
    and runs that change the config search path are left to Hydra.
    """
    if any(arg.split("=")[0] in SEARCH_PATH_FLAGS or arg.startswith("hydra.searchpath") for arg in argv):
        return None
    candidates = [arg for arg in argv if "=" in arg and not arg.startswith("-")]
    try:
        overrides = OverridesParser.create().parse_overrides(candidates)
    except OverrideParseException:
        return None
    for override in overrides:
        group, value = override.key_or_group, override.value()
        if override.is_delete() or override.package is not None or not isinstance(value, str):
            continue
        choices = _group_options(group, conf_dir)
        if choices is not None and value not in choices:
            hint = f"; {value} is a mode: mode={value}" if group == "task" and value in MODES else ""
            return f"error: {group}={value!r}: unknown option (choose from {', '.join(sorted(choices))}{hint})"
    return None


def _group_options(group: str, conf_dir: Path) -> set[str] | None:
    """Options of a config group of ours (a folder of conf/, or the sweeper's sampler and pruner), else None."""
    if group in PLUGIN_GROUPS:
        return set(PLUGIN_GROUPS[group])
    folder = conf_dir / group
    return {path.stem for path in folder.glob("*.yaml")} if folder.is_dir() else None


def sweep_needs_optuna(argv: Sequence[str]) -> str | None:
    """The error line for a multirun that samples (`interval`, `tag(log, ...)`) on Hydra's basic sweeper, which
    only enumerates: it needs the optuna sweeper. None when no override samples."""
    try:
        overrides = OverridesParser.create().parse_overrides([arg for arg in argv if "=" in arg])
    except OverrideParseException:
        return None
    sampled = [override for override in overrides if isinstance(override.value(), IntervalSweep)]
    if not sampled:
        return None
    key, _, value = (sampled[0].input_line or "").partition("=")
    return (
        f"error: {key}={value!r}: sampling needs the optuna sweeper, and this multirun has Hydra's basic one: run "
        "it in a sweep (sweeps=NAME) or add hydra/sweeper=optuna"
    )


def check_group_choices(argv: Sequence[str], conf_dir: Path) -> None:
    error = unknown_group_choice(argv, conf_dir)
    if error:
        raise SystemExit(error)


def run_app(main: Callable[[], Any], conf_dir: Path) -> None:
    """Run a `hydra.main` app from the command line; config errors end with one `error:` line and exit code 1.

    Hydra re-raises its errors instead of printing them when HYDRA_FULL_ERROR=1; a user who set it gets Hydra's
    full report. The process ends after this, so its objects are frozen out of the garbage collector
    (`end_quickly`).
    """
    try:
        _run_reporting_errors(main, conf_dir)
    finally:
        end_quickly()


def end_quickly() -> None:
    """Keep the garbage collector off the objects alive at the end of the process: Python's teardown collects
    again and again while it clears the modules, 1.5-2 s of a command's time once torch, TorchDynamo and MLflow
    are loaded, to reclaim memory the exit hands back anyway. Objects are still released as their last reference
    goes, so open files are flushed and closed as before; only garbage in reference cycles is left to the exit."""
    gc.freeze()


def _run_reporting_errors(main: Callable[[], Any], conf_dir: Path) -> None:
    check_group_choices(sys.argv[1:], conf_dir)
    if os.environ.get(FULL_ERROR) == "1":
        main()
        return
    os.environ[FULL_ERROR] = "1"
    try:
        main()
    except (HydraException, OmegaConfBaseException) as error:
        enumerating_only = BASIC_SWEEPER_REFUSAL in str(error)  # Hydra's basic sweeper met an interval
        needs_optuna = sweep_needs_optuna(sys.argv[1:]) if enumerating_only else None
        refused = compose_value_error(error)  # a value of the wrong type for its field's schema
        raise SystemExit(needs_optuna or f"error: {refused or one_line(error)}") from None
    except yaml.MarkedYAMLError as error:
        raise SystemExit(f"error: {yaml_error_line(error)}") from None


def yaml_error_line(error: yaml.MarkedYAMLError) -> str:
    """Where a config file's YAML breaks, and how."""
    mark = error.context_mark or error.problem_mark
    where = f"{mark.name}, line {mark.line + 1}" if mark else "a config file"
    return f"{where}: invalid YAML ({' '.join(filter(None, [error.context, error.problem]))})"
