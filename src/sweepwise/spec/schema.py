"""The schema of sweepwise's config groups: each dataclass is a group's fields, their types and their checks.

The values live in `conf/` alone (the fields have no defaults: a value missing from the YAML is an error, not a
second default). A dataclass is built from a composed config by `spec.run.run_spec`; its `__post_init__` checks
what a type cannot say and names the key of the value it refuses. Adding a trainer option is adding a field to
`TrainerSettings` and its value to `conf/trainer/default.yaml`.

The dataclasses are not frozen: OmegaConf makes a frozen dataclass's node read-only, and Hydra could then not
merge the YAML's values onto it.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from sweepwise.errors import ConfigError

SCHEMA_GROUP = "sweepwise_schema"  # conf/ YAML pulls a schema in with `- /sweepwise_schema/NAME@_here_`
# the direction each metric of the built-in tasks improves in: a direction left to follow the metric takes it
METRIC_DIRECTIONS = {
    "train/loss": "minimize",
    "val/loss": "minimize",
    "val/acc": "maximize",
    "val/rmse": "minimize",
    "val/mae": "minimize",
    "val/r2": "maximize",
    "val/perplexity": "minimize",
    "val/bits_per_token": "minimize",
}
# the metrics each built-in task (its `_target_`) reports per epoch: what its runs can optimise and stop on
TASK_METRICS = {
    "sweepwise.tasks.Classification": ("val/acc", "val/loss", "train/loss"),
    "sweepwise.tasks.Regression": ("val/rmse", "val/mae", "val/r2", "val/loss", "train/loss"),
    "sweepwise.tasks.LanguageModel": (
        "val/loss",
        "val/perplexity",
        "val/bits_per_token",
        "val/acc",
        "train/loss",
    ),
}
# a task's metrics that it also reports per target (`val/rmse/price`), each improving as the whole does
PER_TARGET_METRICS = {"sweepwise.tasks.Regression": ("val/rmse", "val/mae", "val/r2")}
DIRECTIONS = ("maximize", "minimize")
DIRECTION_RESOLVER = "sweepwise.direction_of"  # conf/ YAML: direction: ${sweepwise.direction_of:${.metric}}
PRECISIONS = ("auto", "bf16", "fp32")
PROGRESS_MODES = ("auto", "bar", "plain", "off")
CHECKPOINTS_TO_LOG = {"best": "best.pt", "last": "last.pt", "none": None}
PREFLIGHT_MODES = ("fail", "warn", "off")
MAX_ENSEMBLE = 5


def direction_of(metric: str) -> str | None:
    """The direction `metric` improves in (the default of a `direction` next to it); None for one sweepwise does
    not know, which the checks then refuse. A target's own metric (`val/rmse/price`) improves as `val/rmse` does."""
    return METRIC_DIRECTIONS.get(metric) or METRIC_DIRECTIONS.get(per_target_base(metric) or "")


# the words of a metric's name that say how it improves, for a metric of the code's own (`val_loss`, `valid/acc`)
LOWER_IS_BETTER = {"loss", "mse", "rmse", "mae", "error", "err", "perplexity", "ppl", "bits", "nll", "wer", "cer"}
HIGHER_IS_BETTER = {"acc", "accuracy", "f1", "auc", "auroc", "precision", "recall", "r2", "bleu", "iou", "map"}


def direction_by_name(metric: str) -> str | None:
    """How `metric` improves: sweepwise's own, or a metric whose name holds one word that says it (a name with
    words of both kinds, or a negation, says nothing)."""
    if known := direction_of(metric):
        return known
    words = set(re.split(r"[^a-z0-9]+", metric.lower()))
    lower, higher = bool(words & LOWER_IS_BETTER), bool(words & HIGHER_IS_BETTER)
    if lower == higher or words & {"neg", "negative", "minus", "inv", "inverse"}:
        return None
    return "minimize" if lower else "maximize"


def per_target_base(metric: str) -> str | None:
    """`val/rmse` for one target's `val/rmse/price`; None for a metric of the whole."""
    base, _, target = metric.rpartition("/")
    is_per_target = target and any(base in metrics for metrics in PER_TARGET_METRICS.values())
    return base if is_per_target else None


def check_metric_direction(prefix: str, metric: str, direction: str | None) -> None:
    """`direction` must be the one `metric` improves in: a sweep that maximised a loss would report its worst trial
    as its best. None (a metric of no known direction) is refused by `check_objective`, once the task is known."""
    if direction is None:
        return
    if direction not in DIRECTIONS:
        raise ConfigError(f"{prefix}.direction", direction, "must be maximize or minimize")
    expected = direction_of(metric) or direction
    if direction != expected:
        better = "higher" if expected == "maximize" else "lower"
        raise ConfigError(
            f"{prefix}.direction",
            direction,
            f"{metric} is better {better}: {expected} it, or leave the direction out to follow the metric",
        )


def task_option(target: str) -> str:
    """The `conf/task/` option of a built-in task's `_target_`: sweepwise.tasks.LanguageModel -> language_model."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", target.rsplit(".", 1)[-1]).lower()


def check_objective(prefix: str, metric: str, direction: str | None, task: str | None) -> None:
    """A built-in task's run reports its own metrics alone (`task`: the config's `task._target_`), so `metric` must
    be one of them; a metric sweepwise does not know (a task of the user's own) needs its direction given."""
    reported = TASK_METRICS.get(task or "")
    per_target = per_target_base(metric) in PER_TARGET_METRICS.get(task or "", ())
    if reported is not None and metric not in reported and not per_target:
        name = task_option(str(task))
        others = [task_option(other) for other, metrics in TASK_METRICS.items() if metric in metrics]
        hint = f" ({metric} is a metric of task={others[0]})" if others else ""
        raise ConfigError(f"{prefix}.metric", metric, f"task={name} reports {', '.join(reported)}{hint}")
    if direction is None:
        raise ConfigError(
            f"{prefix}.direction",
            direction,
            f"{metric} is a metric of no direction sweepwise knows: set {prefix}.direction to maximize or minimize",
        )


@dataclass
class Objective:
    """The metric a sweep optimises and whether larger is better."""

    metric: str
    direction: str | None  # None: a metric of no known direction (refused)

    def __post_init__(self) -> None:
        check_metric_direction("objective", self.metric, self.direction)

    def improves(self, value: float, best: float | None, min_delta: float = 0.0) -> bool:
        if best is None:
            return True
        return value > best + min_delta if self.direction == "maximize" else value < best - min_delta


@dataclass
class EarlyStopping:
    """Stop after `patience` epochs without an improvement of `min_delta` in `metric`; patience null = off."""

    patience: int | None
    metric: str
    direction: str | None  # None: a metric of no known direction (refused)
    min_delta: float

    def __post_init__(self) -> None:
        if self.patience is not None and self.patience < 1:
            raise ConfigError("trainer.early_stopping.patience", self.patience, "must be >= 1 or null (off)")
        check_metric_direction("trainer.early_stopping", self.metric, self.direction)

    @property
    def criterion(self) -> Objective:
        return Objective(self.metric, self.direction)


@dataclass
class TrainerSettings:
    """`trainer`: how one run trains (conf/trainer/default.yaml says what each field means)."""

    epochs: int
    max_steps: int | None
    batch_size: int
    eval_batch_size: int
    device: str
    devices: int  # processes training one run together, each on an equal slice of every batch
    compile: bool
    channels_last: bool
    precision: str
    grad_clip: float | None
    seed: int
    deterministic: bool
    progress: str
    checkpoint_dir: str | None  # paths as strings: a config that holds Path objects cannot be saved as YAML
    resume_from: str | None
    early_stopping: EarlyStopping

    def __post_init__(self) -> None:
        if self.max_steps is None and self.epochs < 1:
            raise ConfigError("trainer.epochs", self.epochs, "must be >= 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError("trainer.max_steps", self.max_steps, "must be >= 1 or null (use epochs)")
        if self.batch_size < 1:
            raise ConfigError("trainer.batch_size", self.batch_size, "must be >= 1")
        if self.eval_batch_size < 1:
            raise ConfigError("trainer.eval_batch_size", self.eval_batch_size, "must be >= 1")
        if self.devices < 1:
            raise ConfigError("trainer.devices", self.devices, "must be >= 1")
        if self.batch_size % self.devices:
            raise ConfigError("trainer.devices", self.devices, f"must divide trainer.batch_size={self.batch_size}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ConfigError("trainer.grad_clip", self.grad_clip, "must be > 0 or null (off)")
        if self.precision not in PRECISIONS:
            raise ConfigError("trainer.precision", self.precision, "must be auto, bf16 or fp32")
        if self.progress not in PROGRESS_MODES:
            raise ConfigError("trainer.progress", self.progress, f"must be one of {', '.join(PROGRESS_MODES)}")

    @property
    def checkpoint_folder(self) -> Path | None:
        """Where the loop saves its checkpoints (None: nowhere)."""
        return Path(self.checkpoint_dir) if self.checkpoint_dir else None


@dataclass
class RetrySettings:
    """`tracking.retry`: MLflow's HTTP retry policy (null keeps MLflow's own value)."""

    max_retries: int | None
    backoff_factor: int | None
    timeout_s: int | None

    def __post_init__(self) -> None:
        for key, value, floor in (
            ("max_retries", self.max_retries, 0),
            ("backoff_factor", self.backoff_factor, 0),
            ("timeout_s", self.timeout_s, 1),
        ):
            if value is not None and value < floor:
                kind = "a positive" if floor else "a non-negative"
                raise ConfigError(f"tracking.retry.{key}", value, f"must be {kind} whole number")


@dataclass
class TrackingSettings:
    """`tracking`: where and what a run logs to MLflow."""

    uri: str | None
    experiment: str
    run_name: str | None
    parent_run_id: str | None
    log_checkpoints: str
    log_model: bool
    log_every_n_steps: int
    retry: RetrySettings

    def __post_init__(self) -> None:
        if self.log_checkpoints not in CHECKPOINTS_TO_LOG:
            raise ConfigError("tracking.log_checkpoints", self.log_checkpoints, "must be best, last or none")
        if self.log_every_n_steps < 0:
            raise ConfigError(
                "tracking.log_every_n_steps", self.log_every_n_steps, "must be >= 0 (0 logs per epoch only)"
            )

    @property
    def checkpoint_file(self) -> str | None:
        """The checkpoint file a run logs to MLflow at its end (None: none)."""
        return CHECKPOINTS_TO_LOG[self.log_checkpoints]


@dataclass
class RecipeSettings:
    """`recipe`: the preflight checks' mode and budgets, and a sweep's ensemble."""

    preflight: str
    init_bias: bool
    budget_steps: int
    overfit_samples: int
    overfit_steps: int
    lr_range_steps: int
    ensemble_top_k: int

    def __post_init__(self) -> None:
        if self.preflight not in PREFLIGHT_MODES:
            raise ConfigError("recipe.preflight", self.preflight, f"must be one of {', '.join(PREFLIGHT_MODES)}")
        for key in ("budget_steps", "overfit_samples", "overfit_steps", "lr_range_steps"):
            if getattr(self, key) < 1:
                raise ConfigError(f"recipe.{key}", getattr(self, key), "must be >= 1")
        if not 0 <= self.ensemble_top_k <= MAX_ENSEMBLE:
            raise ConfigError(
                "recipe.ensemble_top_k", self.ensemble_top_k, f"must be an integer from 0 (off) to {MAX_ENSEMBLE}"
            )


SCHEMAS: dict[str, type] = {
    "trainer": TrainerSettings,
    "tracking": TrackingSettings,
    "recipe": RecipeSettings,
    "objective": Objective,
}


def register(store: ConfigStore) -> None:
    """Put each group's schema in Hydra's ConfigStore, where only sweepwise's own conf/ refers to it, and the
    resolver that gives a direction its metric's default."""
    for name, node in SCHEMAS.items():
        store.store(group=SCHEMA_GROUP, name=name, node=node, provider="sweepwise")
    if not OmegaConf.has_resolver(DIRECTION_RESOLVER):
        OmegaConf.register_new_resolver(DIRECTION_RESOLVER, direction_of)
