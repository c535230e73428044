"""A composed config validated once into one typed spec: what a run, the recipe and a sweep's checks read.

`run_spec` is the only place a config of sweepwise's training is checked: a run builds it once and hands it down
(to its other processes too), the preflight reads its budgets from it, and a sweep builds it for every variant of
its search space before the first trial. `task_spec` is the little a sweep reads of its task's config, which
may be another app's: it reads a section only where sweepwise's schema is attached (its own conf/).
"""

import copy
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from sweepwise.errors import HIDDEN_PASSWORD, ConfigError, is_secret
from sweepwise.spec.convert import typed
from sweepwise.spec.schema import (
    Objective,
    RecipeSettings,
    RetrySettings,
    TrackingSettings,
    TrainerSettings,
    check_objective,
)

CLASSIFICATION = "sweepwise.tasks.Classification"  # the task whose trials an ensemble averages

T = TypeVar("T")
INTERPOLATED_ROOT = re.compile(r"\$\{\s*([A-Za-z_][\w-]*)")  # the top-level key an interpolation starts from
# every section sweepwise's training reads (and `hydra`, in a sweep's view of the config): another one (`+loss=mse`)
# would be accepted and ignored
SECTIONS = ("data", "model", "optimizer", "schedule", "trainer", "tracking", "objective", "recipe", "task", "mode",
            "output_dir", "hydra")  # fmt: skip


@dataclass(frozen=True)
class RunSpec:
    """Everything a training run reads of its config besides the parts it builds (data, model, optimiser and
    schedule, whose own constructors check their arguments)."""

    trainer: TrainerSettings
    objective: Objective
    tracking: TrackingSettings
    recipe: RecipeSettings
    learning_rate: float


def run_spec(cfg: DictConfig, resolve_paths: bool = True) -> RunSpec:
    """Check `cfg` (a config of sweepwise's training) and type it. `resolve_paths=False` leaves the checkpoint
    folder out: it may name the job's output folder, which exists only once the job runs (a sweep's checks)."""
    check_sections(cfg)
    spec = RunSpec(
        trainer=typed(_trainer_node(cfg, resolve_paths), TrainerSettings, "trainer"),
        objective=typed(_section(cfg, "objective"), Objective, "objective"),
        tracking=typed(_section(cfg, "tracking"), TrackingSettings, "tracking"),
        recipe=typed(_section(cfg, "recipe"), RecipeSettings, "recipe"),
        learning_rate=learning_rate(cfg),
    )
    task = OmegaConf.select(cfg, "task._target_", default=None)
    if spec.recipe.ensemble_top_k and task not in (None, CLASSIFICATION):
        raise ConfigError("recipe.ensemble_top_k", spec.recipe.ensemble_top_k, f"ensembles average class "
                          f"probabilities: task._target_={task} has none")  # fmt: skip
    check_objective("objective", spec.objective.metric, spec.objective.direction, task)
    stopping = spec.trainer.early_stopping
    check_objective("trainer.early_stopping", stopping.metric, stopping.direction, task)
    return spec


def check_sections(cfg: DictConfig) -> None:
    """Refuse a top-level value the training would not read (`+loss=mse`: none of its sections, and no
    interpolation refers to it), naming the key of a section that has one of that name. A section of the user's
    own (`+db.password=...`) may be there for their own parts' interpolations: only one named like a key of the
    training's sections is refused."""
    referred = set(INTERPOLATED_ROOT.findall(str(OmegaConf.to_container(cfg, resolve=False))))
    nodes = {section: OmegaConf.select(cfg, section, throw_on_resolution_failure=False) for section in SECTIONS}
    for key in map(str, cfg):
        if key in SECTIONS or key in referred:
            continue
        owners = [f"{section}.{key}" for section, node in nodes.items() if isinstance(node, DictConfig) and key in node]
        node = OmegaConf.select(cfg, key, throw_on_resolution_failure=False)
        if isinstance(node, DictConfig) and not owners:
            continue
        hint = f" (did you mean {owners[0]}?)" if owners else ""
        value = "{...}" if isinstance(node, DictConfig) else HIDDEN_PASSWORD if is_secret(key) else node
        raise ConfigError(key, value, f"sweepwise's training reads no such key, so it would do nothing{hint}")


def learning_rate(cfg: DictConfig) -> float:
    """`optimizer.lr`: the optimiser group has no schema (each option names its own target), but every
    optimiser of a run takes a positive learning rate."""
    lr = OmegaConf.select(cfg, "optimizer.lr", throw_on_missing=False)
    if isinstance(lr, bool) or not isinstance(lr, int | float):
        raise ConfigError("optimizer.lr", lr, "must be a number")
    if lr <= 0:
        raise ConfigError("optimizer.lr", float(lr), "must be > 0")
    return float(lr)


def _section(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=None)


def _trainer_node(cfg: DictConfig, resolve_paths: bool) -> Any:
    node = _section(cfg, "trainer")
    if resolve_paths or not isinstance(node, DictConfig):
        return node
    unresolved = copy.deepcopy(node)  # the config itself stays as it was
    unresolved.checkpoint_dir = None
    return unresolved


@dataclass(frozen=True)
class TaskSpec:
    """What a sweep reads of its task's config: sweepwise's sections where the config has them, else the
    behaviour of an app without them (MLflow's retry policy, no preflight, no ensemble, no logged model)."""

    retry: RetrySettings | None
    preflight: str
    ensemble_top_k: int
    log_model: bool
    # the MLflow store and experiment the config names (None: the environment's or the default store, and an
    # experiment named after the study); another app's own `tracking` section names neither
    tracking_uri: str | None
    experiment: str | None


def task_spec(cfg: DictConfig) -> TaskSpec:
    tracking = _with_schema(cfg, "tracking", TrackingSettings)
    recipe = _with_schema(cfg, "recipe", RecipeSettings)
    return TaskSpec(
        tracking_uri=tracking.uri if tracking else None,
        experiment=tracking.experiment if tracking else None,
        retry=tracking.retry if tracking else None,
        preflight=recipe.preflight if recipe else "off",
        ensemble_top_k=recipe.ensemble_top_k if recipe else 0,
        log_model=tracking.log_model if tracking else False,
    )


def _with_schema(cfg: DictConfig, key: str, schema: type[T]) -> T | None:
    """The section at `key` typed, where sweepwise's conf/ attached `schema` to it; None in another app's config
    (even one with a section of that name)."""
    node = _section(cfg, key)
    if isinstance(node, DictConfig) and OmegaConf.get_type(node) is schema:
        return typed(node, schema, key)
    return None
