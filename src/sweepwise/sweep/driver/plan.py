"""Everything a sweep needs, validated before anything is created: a bad config touches no study or MLflow store."""

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, cast

import optuna
from hydra.errors import HydraException
from hydra.types import HydraContext
from hydra.utils import get_class, instantiate
from omegaconf import MISSING, DictConfig, OmegaConf

from hydra_plugins.sweepwise_plugins.config import OptunaSweeperConf
from sweepwise.configure import is_sweepwise_training
from sweepwise.errors import ConfigError, first_line
from sweepwise.spec.launch import bounded
from sweepwise.spec.run import TaskSpec
from sweepwise.spec.schema import Objective, check_objective
from sweepwise.spec.sweep_schedule import KEY as SCHEDULE_KEY
from sweepwise.spec.sweep_schedule import Pbt, Schedule, check_typed_fields, schedule_of
from sweepwise.study.storage import storage_spec
from sweepwise.sweep.driver.custom_space import custom_search_space_function
from sweepwise.sweep.driver.override_check import check_overrides_compose
from sweepwise.sweep.driver.param_grammar import SearchSpace, grid_of, parse_search_space
from sweepwise.sweep.driver.population import check_population
from sweepwise.sweep.driver.samplers import build_sampler, is_grid, unusable_sampler
from sweepwise.sweep.launch.gpu_placement import CPU_SLOTS
from sweepwise.tracking.mlflow_run import resolve_tracking_uri

Direction = Literal["minimize", "maximize"]
DIRECTIONS = ("minimize", "maximize")
ON_CHANGE = ("stop", "continue")
# the sweeper's own fields (not Hydra's `_target_`, `_recursive_` and `defaults`)
SWEEPER_FIELDS = tuple(
    field.name for field in fields(OptunaSweeperConf) if not field.name.startswith("_") and field.name != "defaults"
)
NOP_PRUNER = {"_target_": "optuna.pruners.NopPruner"}


@dataclass(frozen=True)
class SweepSettings:
    """What the orchestrator runs: how many trials, how many at once, and how failures count."""

    study_name: str
    n_trials: int
    n_jobs: int
    max_failure_rate: float
    retries: int
    schedule: Schedule | None = None  # which trials pause, and which go on (None: each runs to its end or pruning)
    grid_points: int | None = None  # a grid sampler's: n_trials is capped at them


def failure_stop(failed: int, settings: SweepSettings, reason: str) -> str | None:
    """Why the sweep stops once `failed` trials exceed `max_failure_rate` of `n_trials`, naming why the latest one
    failed (the first line of its error; the whole of it is in the trial's log and its `fail_reason`)."""
    allowed = settings.max_failure_rate * settings.n_trials
    if failed <= allowed:
        return None
    return (
        f"sweep stopped: {failed} of {settings.n_trials} trials failed, more than "
        f"max_failure_rate={settings.max_failure_rate} allows ({allowed:g}); the last: "
        f"{first_line(reason)}; see the fail_reason of the failed trials (Optuna user attribute, MLflow tag "
        "sweepwise.fail_reason) and their trial.log. The study's failures count on every run: a larger "
        "hydra.sweeper.max_failure_rate goes on with it"
    )


@dataclass(frozen=True)
class SweepPlan:
    conf: OptunaSweeperConf
    settings: SweepSettings
    directions: tuple[Direction, ...]
    space: SearchSpace
    sampler: dict[str, Any]
    pruner: dict[str, Any]
    storage: str
    custom_search_space: Callable[[DictConfig, optuna.Trial], Any] | None
    group_options: dict[str, Any]  # what each config-group option the sweep draws or fixes holds (its definition's)
    tracking_uri: str
    experiment: str
    sweep_dir: Path


def directions_of(direction: Any) -> tuple[Direction, ...]:
    """`minimize`, `maximize` (or hydra-optuna-sweeper's Direction enum names), alone or in a list."""
    items = list(direction) if isinstance(direction, Sequence) and not isinstance(direction, str) else [direction]
    names = tuple(getattr(item, "name", str(item)).lower() for item in items)
    if not names or any(name not in DIRECTIONS for name in names):
        raise ConfigError("hydra.sweeper.direction", direction, "must be minimize, maximize or a list of them")
    return cast(tuple[Direction, ...], names)  # each name was checked to be one of DIRECTIONS


def check_target(key: str, node: Mapping[str, Any], base: type, supplied: Sequence[str] = ()) -> None:
    """The `_target_` must be a `base` class accepting the node's fields (plus those the sweeper supplies)."""
    target = node.get("_target_")
    if (unusable := unusable_sampler(str(target))) is not None:
        raise ConfigError(f"{key}._target_", target, unusable)
    try:
        cls = get_class(str(target))
    except (ImportError, ValueError, HydraException) as error:
        raise ConfigError(f"{key}._target_", target, "cannot be imported") from error
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"{key}._target_", target, f"is not an optuna {base.__name__}")
    fields = {name: value for name, value in node.items() if name != "_target_"}
    try:
        inspect.signature(cls).bind(**fields, **dict.fromkeys(supplied))
    except TypeError as error:
        raise ConfigError(key, fields, f"{cls.__name__} does not accept these fields ({error})") from error


def check_builds(key: str, node: Mapping[str, Any], build: Callable[[Mapping[str, Any]], object]) -> None:
    """Build the sampler or pruner once now: a value its class refuses (a seed of text, a negative warm-up) ends
    the sweep here, in one line naming it, not in a traceback once the study is written. The field named is the
    one without which it builds (the class's message seldom names it); else every field."""
    try:
        build(node)
    except Exception as error:  # whatever the class raises for its values; Hydra wraps it in its own error
        reason = first_line(error.__cause__ or error)
        fields = {name: value for name, value in node.items() if name != "_target_"}
        for name, value in fields.items():
            if _builds(build, {field: held for field, held in node.items() if field != name}):
                raise ConfigError(f"{key}.{name}", value, reason) from error
        raise ConfigError(key, fields, reason) from error


def _builds(build: Callable[[Mapping[str, Any]], object], node: Mapping[str, Any]) -> bool:
    try:
        build(node)
    except Exception:  # as above: any refusal
        return False
    return True


def check_objective_direction(config: DictConfig, direction: Any) -> tuple[Direction, ...]:
    """The sweep's directions. The objective of sweepwise's training must name a metric it has, in the direction
    the metric improves in (checked first, before a parent run exists, as a single run checks it: the sweeper's
    direction follows it); a sweep that minimises what the task maximises would search for the worst model: refuse
    it. Another app's `objective`, whatever it holds, is its own."""
    if not is_sweepwise_training(config):
        return directions_of(direction)
    metric, direction_given = config.objective.metric, config.objective.direction
    Objective(metric=metric, direction=direction_given)
    check_objective("objective", metric, direction_given, OmegaConf.select(config, "task._target_", default=None))
    directions = directions_of(direction)
    objective = OmegaConf.select(config, "objective.direction", default=None)
    if objective and len(directions) == 1 and objective != directions[0]:
        raise ConfigError(
            "hydra.sweeper.direction",
            directions[0],
            f"disagrees with objective.direction={objective!r} ({metric}): set hydra.sweeper.direction={objective} "
            "(the sweep files set ${objective.direction})",
        )
    return directions


def sweeper_config(raw: Mapping[str, Any]) -> OptunaSweeperConf:
    """The sweeper's fields as Hydra hands them to the plugin, parsed once into its typed config (plain
    containers inside: nothing resolves later)."""
    return OptunaSweeperConf(**{name: _container(raw[name]) for name in SWEEPER_FIELDS if name in raw})


def make_plan(
    conf: OptunaSweeperConf, arguments: Sequence[str], hydra_context: HydraContext, config: DictConfig, task: TaskSpec
) -> SweepPlan:
    """Validate the sweeper's fields and the search space against the task's config (`task`: what the sweep reads
    of it)."""
    directions = check_objective_direction(config, conf.direction)
    schedule = schedule_of(None if conf.schedule == MISSING else conf.schedule)
    check_typed_fields(conf.schedule, OmegaConf.select(config, "hydra.overrides.hydra", default=None) or [])
    if schedule is not None and len(directions) > 1:
        name = schedule.as_facts()["name"]
        raise ConfigError(f"{SCHEDULE_KEY}.name", name, "needs one objective: the schedule ranks trials by one value")
    settings = SweepSettings(
        study_name=str(conf.study_name or config.hydra.job.name),
        n_trials=bounded("hydra.sweeper.n_trials", conf.n_trials, 1),
        # null: as the launcher's GPUs allow (`placement`), which sets the final count
        n_jobs=bounded("hydra.sweeper.n_jobs", conf.n_jobs, 1) if conf.n_jobs is not None else CPU_SLOTS,
        max_failure_rate=float(bounded("hydra.sweeper.max_failure_rate", conf.max_failure_rate, 0, 1, integer=False)),
        retries=bounded("hydra.sweeper.retries", conf.retries, 0),
        schedule=schedule,
    )
    sampler = conf.sampler
    if not isinstance(sampler, dict) or "_target_" not in sampler:
        raise ConfigError("hydra.sweeper.sampler", sampler, "must be a sampler config with a _target_")
    seed = sampler.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError("hydra.sweeper.sampler.seed", seed, "must be a whole number or null")
    supplied = ("search_space",) if is_grid(sampler) else ()
    check_target("hydra.sweeper.sampler", sampler, optuna.samplers.BaseSampler, supplied)
    pruner = conf.pruner or dict(NOP_PRUNER)
    if not isinstance(pruner, dict) or "_target_" not in pruner:
        raise ConfigError("hydra.sweeper.pruner", pruner, "must be a pruner config with a _target_")
    if pruner["_target_"] == NOP_PRUNER["_target_"]:  # pruning off: any other field is the config's usual pruner's
        pruner = dict(NOP_PRUNER)
    check_target("hydra.sweeper.pruner", pruner, optuna.pruners.BasePruner)
    ignores = conf.definition_ignores
    if ignores is not None and (not isinstance(ignores, list) or not all(isinstance(key, str) for key in ignores)):
        raise ConfigError("hydra.sweeper.definition_ignores", ignores, "must be a list of override keys")
    if conf.on_change not in ON_CHANGE:
        raise ConfigError("hydra.sweeper.on_change", conf.on_change, f"must be {' or '.join(ON_CHANGE)}")
    space = parse_search_space(conf.params, arguments)
    grid = {"search_space": grid_of(space)} if is_grid(sampler) else {}
    check_builds("hydra.sweeper.sampler", sampler, lambda node: build_sampler(node, **grid))
    check_builds("hydra.sweeper.pruner", pruner, lambda node: instantiate(dict(node)))
    if schedule is not None:  # the schedule decides which trials go on; the start line says the pruner is unused
        pruner = dict(NOP_PRUNER)
    custom = custom_search_space_function(conf.custom_search_space, config, space)
    if isinstance(schedule, Pbt):
        check_population(schedule, settings.n_trials, space, is_sweepwise_training(config), custom)
    options = check_overrides_compose(hydra_context, config, space)
    return SweepPlan(
        conf=conf,
        settings=settings,
        directions=directions,
        space=space,
        sampler=sampler,
        pruner=pruner,
        storage=storage_spec(conf.storage, settings.study_name, Path.cwd()),
        custom_search_space=custom,
        group_options=options,
        tracking_uri=resolve_tracking_uri(task.tracking_uri),
        experiment=task.experiment or settings.study_name,
        sweep_dir=Path(str(config.hydra.sweep.dir)).absolute(),
    )


def _container(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
