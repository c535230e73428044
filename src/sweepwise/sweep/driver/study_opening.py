"""The study a sweep runs: the one a re-run continues (loaded once, without writing anything), or a new one, with
the configured sampler and pruner; and the sweep's settings as its parent run records them."""

from pathlib import Path
from typing import Any

import optuna
from hydra.utils import instantiate

from sweepwise.errors import ConfigError
from sweepwise.study.storage import DATABASE_SCHEMES, open_storage
from sweepwise.sweep.driver.param_grammar import grid_of
from sweepwise.sweep.driver.plan import SWEEPER_FIELDS, SweepPlan
from sweepwise.sweep.driver.samplers import build_sampler, is_grid
from sweepwise.tracking.params import mlflow_name, param_value


def existing_study(plan: SweepPlan) -> optuna.Study | None:
    """The study a re-run would continue, read without writing anything; None for a new one."""
    if not plan.storage.startswith(DATABASE_SCHEMES) and not Path(plan.storage).is_file():
        return None  # opening a journal creates it
    try:
        return optuna.load_study(
            study_name=plan.settings.study_name,
            storage=open_storage(plan.storage),
            sampler=optuna.samplers.RandomSampler(),
        )
    except KeyError:
        return None


def open_study(plan: SweepPlan, existing: optuna.Study | None) -> optuna.Study:
    """The existing study (already loaded: creating it again with `load_if_exists` would append a creation record
    to a journal on every re-run) or a new one, given the configured sampler, seeded past the trials it already
    has."""
    study = existing
    if study is None:
        try:
            study = optuna.create_study(
                study_name=plan.settings.study_name,
                storage=open_storage(plan.storage),
                directions=list(plan.directions),
                load_if_exists=True,  # another sweep may have created it meanwhile
            )
        except ValueError as error:
            raise ConfigError("hydra.sweeper.direction", list(plan.directions), str(error)) from error
    kwargs: dict[str, Any] = {}
    if plan.sampler.get("seed") is not None:
        kwargs["seed"] = plan.sampler["seed"] + len(study.trials)
    if is_grid(plan.sampler):
        kwargs["search_space"] = grid_of(plan.space)
    study.sampler = build_sampler(plan.sampler, **kwargs)
    study.pruner = instantiate(plan.pruner)
    return study


def settings_params(plan: SweepPlan) -> dict[str, Any]:
    """The sweeper's settings as the sweep runs them (a default resolved: the study's name and storage, the trials
    at once), search space and fixed overrides, as the parent run's params."""
    resolved = {"study_name": plan.settings.study_name, "storage": plan.storage, "n_jobs": plan.settings.n_jobs}
    sweeper = {name: resolved.get(name, getattr(plan.conf, name)) for name in SWEEPER_FIELDS if name != "params"}
    space = {mlflow_name(name): repr(distribution) for name, distribution in plan.space.distributions.items()}
    fixed = {mlflow_name(key): param_value(key, value) for key, value in plan.space.fixed.items()}
    groups = {"sweeper": sweeper, "search_space": space, "fixed": fixed}
    return {name: group for name, group in groups.items() if group}  # no `fixed: {}` for a sweep without any
