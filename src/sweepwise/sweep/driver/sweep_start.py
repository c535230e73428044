"""The start of a sweep, in the order that keeps a bad config from writing anything: the stores are checked, the
study a re-run continues is loaded and its definition compared, the preflight runs, and only then are the study
and its MLflow parent run written, and the sweep's first lines printed."""

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import optuna
from hydra.errors import HydraException
from hydra.types import HydraContext
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException

import sweepwise
from sweepwise.configure import is_sweepwise_training
from sweepwise.errors import ConfigError, SweepwiseError, hide_password
from sweepwise.folders import unmakeable_folder
from sweepwise.internals.omegaconf_internals import task_part
from sweepwise.internals.optuna_internals import trial_id
from sweepwise.study.records import DEFINITION_ATTR, SWEEP_DIR_ATTR
from sweepwise.study.storage import DATABASE_SCHEMES, check_storage
from sweepwise.sweep.driver.definition import (
    NO_VALUE,
    check_continuable,
    check_definition,
    definition_of,
    ignored_keys,
)
from sweepwise.sweep.driver.folder_owner import check_folder_owner, mark_folder
from sweepwise.sweep.driver.param_grammar import grid_of
from sweepwise.sweep.driver.plan import NOP_PRUNER, SweepPlan, SweepSettings
from sweepwise.sweep.driver.progress import SweepProgress
from sweepwise.sweep.driver.samplers import is_grid
from sweepwise.sweep.driver.study_claim import StudyClaim, check_unclaimed, has_work, released_on_error
from sweepwise.sweep.driver.study_opening import existing_study, open_study, settings_params
from sweepwise.sweep.driver.tracker import SweepTracker
from sweepwise.sweep.launch.gpu_placement import Placement, check_packing, gpu_memory_mb
from sweepwise.sweep.trial.trial_context import TrialContext
from sweepwise.tracking.params import mlflow_name
from sweepwise.tracking.provenance import provenance_tags
from sweepwise.tracking.store_check import check_tracking_store

if TYPE_CHECKING:
    from sweepwise.sweep.driver.sweep_preflight import SweepPreflight


@dataclass(frozen=True)
class StartedSweep:
    """A sweep ready to run: its study, its parent run and tracker, the settings it runs with (a grid's trials
    capped at its size), its progress display, its preflight (None when off) and its claim on the study."""

    plan: SweepPlan
    study: optuna.Study
    tracker: SweepTracker
    parent_run_id: str
    settings: SweepSettings
    progress: SweepProgress
    preflight: "SweepPreflight | None"
    claim: StudyClaim | None  # None: the study is complete, and the sweep only reads it

    def trial_context(
        self, trial: optuna.Trial, params: dict[str, Any], run_id: str | None, attempt: int
    ) -> TrialContext:
        """What the sweep tells a trial's process about the trial."""
        plan = self.plan
        return TrialContext(
            study_name=self.study.study_name,
            storage=plan.storage,
            trial_id=trial_id(trial),
            trial_number=trial.number,
            directions=plan.directions,
            pruner=plan.pruner,
            schedule=plan.settings.schedule.as_facts() if plan.settings.schedule is not None else None,
            tracking_uri=plan.tracking_uri,
            experiment_id=self.tracker.experiment_id,
            parent_run_id=self.parent_run_id,
            params=params,
            run_id=run_id,
            attempt=attempt,
        )

    def log_file(self, number: int) -> str:
        return str(self.plan.sweep_dir / str(number) / "trial.log")


def _mistake_in(config: DictConfig) -> SweepwiseError | None:
    """The error that building sweepwise training's data from `config` meets, if any: a value that differs from a
    study's definition is more often a mistake (a column that does not exist) than a new sweep, and that mistake
    is the line to show."""
    if not is_sweepwise_training(config):
        return None
    from sweepwise import configure as parts  # imports torch: only on this path

    try:
        base = task_part(config)
        parts.build_data(base.data, parts.build_task(base))
    except SweepwiseError as error:
        return error
    return None


def start_sweep(
    plan: SweepPlan,
    config: DictConfig,
    hydra_context: HydraContext,
    slots: Placement,
    preflight: str,
    launcher: Sequence[str],
) -> StartedSweep:
    """Check, then write the study and the parent run; a config error met on the way leaves nothing written.
    `launcher`: what runs the trials (named in the first line), and a line for each of its settings left unused."""
    journal_folder = None if plan.storage.startswith(DATABASE_SCHEMES) else Path(plan.storage).parent
    new_folder = journal_folder is not None and not journal_folder.exists()
    check_storage(plan.storage)  # the study's storage can hold it, checked before any store is written to
    check_tracking_store(plan.tracking_uri)
    objective = OmegaConf.select(config, "objective.metric", default=None)
    ignores = ignored_keys(plan.conf.definition_ignores, is_sweepwise_training(config))
    task_config = cast(dict[str, Any], OmegaConf.to_container(task_part(config), resolve=False))
    definition = definition_of(
        plan.space, plan.sampler, plan.directions, objective, ignores, task_config, plan.group_options
    )
    if plan.settings.schedule is not None:  # a study without one (every study before schedules) has no such part
        definition["schedule"] = plan.settings.schedule.as_facts()
    existing = existing_study(plan)
    if existing is not None:
        check_unclaimed(existing)
        check_continuable(existing, plan.space)  # first: no on_change lets a study change a parameter's kind
    unset = _unset_value(config, hydra_context, plan.space.distributions)
    try:
        record = existing is None or check_definition(existing, definition, plan.conf.on_change, unset, ignores)
    except ConfigError as changed:
        raise _mistake_in(config) or changed from None
    first_folder = plan.sweep_dir
    plan = _in_the_studys_folder(plan, existing, config)
    if problem := unmakeable_folder(plan.sweep_dir):
        raise ConfigError("hydra.sweep.dir", str(plan.sweep_dir), problem)
    check_folder_owner(plan.sweep_dir, plan.settings.study_name, plan.storage)
    checked = None
    if preflight != "off":
        from sweepwise.sweep.driver.sweep_preflight import preflight_sweep  # imports torch: only when asked for

        checked = preflight_sweep(plan, config, hydra_context, existing)
        if slots.trials_per_gpu > 1:
            check_packing(slots.trials_per_gpu, checked.cuda_peak_mb, gpu_memory_mb())
    tracker = SweepTracker(plan.tracking_uri, plan.experiment)  # the server answers before the study is made
    study = open_study(plan, existing)
    settings = plan.settings
    if is_grid(plan.sampler):
        grid_size = math.prod(len(values) for values in grid_of(plan.space).values())
        settings = replace(settings, n_trials=min(settings.n_trials, grid_size), grid_points=grid_size)
    claim = StudyClaim(study) if has_work(study, settings.n_trials, settings.schedule) else None
    with released_on_error(claim):
        if record:
            study.set_user_attr(DEFINITION_ATTR, definition)
        if study.user_attrs.get(SWEEP_DIR_ATTR) != str(plan.sweep_dir.resolve()):
            study.set_user_attr(SWEEP_DIR_ATTR, str(plan.sweep_dir.resolve()))
        mark_folder(plan.sweep_dir, study.study_name, plan.storage)
        parent = tracker.start_parent(study, settings_params(plan), provenance_tags(_typed_overrides(config)))
        tracker.share_trials_view(plan.directions, [mlflow_name(name) for name in plan.space.distributions])
    progress = SweepProgress(settings.n_trials, trial_output=plan.conf.show_trial_output)
    progress.event(
        f"sweepwise {sweepwise.__version__} optuna sweeper, {launcher[0]}: study {study.study_name} "
        f"({hide_password(plan.storage)}"
        f"{'; its folder was created' if new_folder else ''}), "
        f"MLflow experiment {plan.experiment} run {parent} ({hide_password(plan.tracking_uri)})"
    )
    if tracker.lost_parent:
        progress.event(
            f"the study's parent run {tracker.lost_parent} is not in this MLflow store: run {parent} is its parent "
            "from now on, and its ended trials get runs there again"
        )
    if plan.sweep_dir != first_folder:
        progress.event(f"continuing in the study's folder {plan.sweep_dir} (hydra.sweep.dir gives {first_folder})")
    for line in [*launcher[1:], slots.describe()]:
        if line:
            progress.event(line)
    if len(plan.directions) > 1 and plan.pruner != NOP_PRUNER:
        progress.event(
            f"hydra.sweeper.pruner ({plan.pruner['_target_']}) is not used: Optuna prunes single-objective studies "
            f"only, so each trial of this {len(plan.directions)}-objective sweep runs to its end"
        )
    if plan.settings.schedule is not None:
        configured = plan.conf.pruner.get("_target_") if isinstance(plan.conf.pruner, dict) else None
        unused = f"; hydra.sweeper.pruner ({configured}) is not used" if configured != NOP_PRUNER["_target_"] else ""
        progress.event(f"{plan.settings.schedule.describe()}{unused}")
        epochs = OmegaConf.select(config, "trainer.epochs") if is_sweepwise_training(config) else None
        if isinstance(epochs, int) and plan.settings.schedule.first_pause >= epochs:
            progress.event(
                f"trainer.epochs={epochs} ends every trial before its first pause (step "
                f"{plan.settings.schedule.first_pause}): no trial pauses, so the schedule does nothing"
            )
    if not plan.space.distributions and plan.custom_search_space is None:
        trials = f"{settings.n_trials} trial{'s' * (settings.n_trials != 1)}"
        progress.event(f"no parameters to search: every trial runs the same config ({trials})")
    return StartedSweep(plan, study, tracker, parent, settings, progress, checked, claim)


def _in_the_studys_folder(plan: SweepPlan, existing: optuna.Study | None, config: DictConfig) -> SweepPlan:
    """A study a re-run continues keeps the folder it first ran in: its trials' folders (a continued trial's work
    and checkpoints, the files of SLURM jobs to adopt) are there, whatever `hydra.sweep.dir` gives now (Hydra's
    default names a new folder per run, by its time). A folder since removed gives way to the new one."""
    recorded = existing.user_attrs.get(SWEEP_DIR_ATTR) if existing is not None else None
    if not recorded or Path(recorded) == plan.sweep_dir.resolve() or not Path(recorded).is_dir():
        return plan
    quoted = recorded.replace("'", "\\'").replace("${", "\\${")  # a literal in Hydra's override grammar
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.sweep.dir = recorded
        config.hydra.overrides.hydra.append(f"hydra.sweep.dir='{quoted}'")  # composed into every trial's config
    return replace(plan, sweep_dir=Path(recorded))


def _unset_value(config: DictConfig, hydra_context: HydraContext, searched: Collection[str]) -> Callable[[str], Any]:
    """The value a key has when the command line does not set it: the config composed again without that
    override (only for a key one run set and the other did not, so a plain run pays nothing)."""

    def value(key: str) -> Any:
        left_out = {key, *(name.lstrip("+~") for name in searched)}
        kept = [
            override for override in _typed_overrides(config) if override.split("=", 1)[0].lstrip("+~") not in left_out
        ]
        try:
            composed = hydra_context.config_loader.load_sweep_config(config, kept)
        except (HydraException, OmegaConfBaseException):
            return None  # unknowable: the two runs' values count as different
        if key in composed.hydra.runtime.choices:  # a config group's option
            return composed.hydra.runtime.choices[key]
        found = OmegaConf.select(composed, key, default=NO_VALUE, throw_on_resolution_failure=False)
        return OmegaConf.to_container(found, resolve=True) if isinstance(found, DictConfig | ListConfig) else found

    return value


def _typed_overrides(config: DictConfig) -> Sequence[str]:
    """The command line's overrides as typed (an interpolation in one is text here, resolved in the trials)."""
    overrides = OmegaConf.select(config, "hydra.overrides.task", default=None)
    return list(cast(list[str], OmegaConf.to_container(overrides, resolve=False))) if overrides is not None else []
