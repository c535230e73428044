"""Structured configs of sweepwise's Hydra plugins, registered in Hydra's ConfigStore.

The sweeper accepts the configuration of hydra-optuna-sweeper 1.2/1.3 (same group names, fields and `params`
grammar) so that configs written for it run unchanged, and adds what it lacks: `pruner`, `schedule`, `retries`.
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from hydra_plugins.sweepwise_plugins.launcher_config import (
    LocalLauncherConf,
    SlurmLauncherConf,
    register_launchers,
)

__all__ = ["LocalLauncherConf", "OptunaSweeperConf", "SlurmLauncherConf", "register"]

# --- samplers (https://optuna.readthedocs.io/en/stable/reference/samplers/) ---


@dataclass
class SamplerConfig:
    _target_: str = MISSING
    seed: int | None = None


@dataclass
class RandomSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.RandomSampler"
    seed: int | None = 0


@dataclass
class TPESamplerConfig(SamplerConfig):
    """Arguments Optuna deprecates default to null, which passes nothing: only what a config sets reaches Optuna."""

    _target_: str = "optuna.samplers.TPESampler"
    consider_prior: bool | None = None
    prior_weight: float | None = None
    consider_magic_clip: bool | None = None
    consider_endpoints: bool | None = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: bool = False
    warn_independent_sampling: bool | None = None


@dataclass
class GPSamplerConfig(SamplerConfig):
    """Gaussian-process Bayesian optimisation (needs torch and scipy, both installed with sweepwise)."""

    _target_: str = "optuna.samplers.GPSampler"
    n_startup_trials: int = 10
    deterministic_objective: bool = False


@dataclass
class MOTPESamplerConfig(SamplerConfig):
    """hydra-optuna-sweeper's `motpe`: Optuna 4 removed MOTPESampler, so a sweep that picks it stops with one line
    saying that `tpe` handles several objectives."""

    _target_: str = "optuna.samplers.MOTPESampler"


@dataclass
class GridSamplerConfig(SamplerConfig):
    """The grid is built from `params` (discrete distributions only)."""

    _target_: str = "optuna.samplers.GridSampler"


@dataclass
class CmaEsSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.CmaEsSampler"
    x0: dict[str, Any] | None = None
    sigma0: float | None = None
    n_startup_trials: int = 1
    warn_independent_sampling: bool = True
    consider_pruned_trials: bool = False
    use_separable_cma: bool = False


@dataclass
class NSGAIISamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.NSGAIISampler"
    population_size: int = 50
    mutation_prob: float | None = None
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5


@dataclass
class QMCSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.QMCSampler"
    qmc_type: str = "sobol"
    scramble: bool = False
    warn_asynchronous_seeding: bool = True
    warn_independent_sampling: bool = True


# --- pruners (https://optuna.readthedocs.io/en/stable/reference/pruners.html) ---


@dataclass
class NopPrunerConfig:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class MedianPrunerConfig:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5
    # epochs are steps from 1: a trial can be pruned from epoch n_warmup_steps on (Optuna's rule)
    n_warmup_steps: int = 2
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class SuccessiveHalvingPrunerConfig:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0
    bootstrap_count: int = 0


@dataclass
class HyperbandPrunerConfig:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"
    reduction_factor: int = 3
    bootstrap_count: int = 0


# --- schedules: trials that pause and go on later from their checkpoints (sweepwise.spec.sweep_schedule) ---


@dataclass
class NoScheduleConfig:
    name: str = "none"


@dataclass
class AshaScheduleConfig:
    name: str = "asha"
    # the first rung, in reported steps (epochs, for sweepwise's training); rung k is min_resource * factor**k
    min_resource: int = 1
    # each rung keeps its top 1/reduction_factor going, each for reduction_factor times the steps
    reduction_factor: int = 3


@dataclass
class PbtScheduleConfig:
    name: str = "pbt"
    # the population is n_trials members, n_jobs of them training at once; each generation trains `interval`
    # reported steps (epochs, for sweepwise's training), then every member pauses
    interval: int = 1
    # once a generation is done, each member in its bottom quantile copies a top-quantile member's checkpoint
    quantile: float = 0.25
    # ... and goes on with that member's hyperparameters, each multiplied by one of these factors
    perturb_factors: list[float] = field(default_factory=lambda: [0.8, 1.2])
    # ... or drawn afresh from the search space with this probability
    resample_probability: float = 0.25
    seed: int = 0  # of the exploit and explore draws, so that a re-run after a kill decides the same
    # the searched keys that may change mid-training; null: for sweepwise's training, the optimiser's settings,
    # model.dropout, data.augment.* and trainer.grad_clip; for another app, every searched key
    mutable: list[str] | None = None


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.sweepwise_plugins.optuna_sweeper.OptunaSweeper"
    # the sampler and pruner are built by the sweeper (after validation), not when Hydra builds the plugin
    _recursive_: bool = False
    defaults: list[Any] = field(
        default_factory=lambda: [{"sampler": "random"}, {"pruner": "none"}, {"schedule": "none"}]
    )

    # an Optuna sampler; random search (seeded) is the default, as the recipe advises
    sampler: Any = MISSING
    # an Optuna pruner; trials of sweepwise's training report their objective every epoch
    pruner: Any = MISSING
    # none; asha: trials pause at rungs, freeing their slots, and the best go on from their checkpoints; pbt:
    # population-based training, the worst members going on from the best ones' checkpoints
    schedule: Any = MISSING
    # minimize or maximize, or a list of them for several objectives
    direction: Any = "minimize"
    # null: an Optuna journal file at studies/<study_name>.journal; or a sqlite:/// or postgresql:// URL,
    # or the path of a journal file
    storage: str | None = None
    # null: the Hydra job name; the same name and storage continue the same study
    study_name: str | None = None
    # trials that end COMPLETE, PRUNED or FAIL, counted over the study (a re-run continues the count)
    n_trials: int = 20
    # trials in flight at once; null: 2, or with the local launcher on GPUs, as many as they hold
    # (GPUs / gpus_per_trial x trials_per_gpu)
    n_jobs: int | None = None
    # the sweep stops once failed trials exceed this fraction of n_trials
    max_failure_rate: float = 0.0
    # how often to re-run a trial whose process died without a result (not one that raised)
    retries: int = 0
    # search space in the override grammar: interval(a, b), int(interval(a, b)), range(a, b, step),
    # choice(...), tag(log, interval(a, b)); plain values are fixed overrides
    params: dict[str, str] | None = None
    # dotted path of a function (cfg, trial) -> None that suggests more parameters
    custom_search_space: str | None = None
    # a re-run whose definition (search space, overrides, sampler, direction, objective) differs from the study's:
    # stop (with what differs) or continue the study under the new definition
    on_change: str = "stop"
    # override keys (with everything under them) that do not change what a trial computes, left out of the study's
    # definition, so changing them is no new sweep; null: for sweepwise's own training, where it logs, how it
    # prints and the recipe's checks (tracking, recipe, trainer.progress, trainer.device, task); for another app,
    # nothing (its keys of those names may well change what it computes)
    definition_ignores: list[str] | None = None
    # show each running trial's output (its trial.log) on the sweep's terminal, each line prefixed with its trial;
    # off, a failed trial's line is followed by the last lines of its output
    show_trial_output: bool = False


SAMPLERS = {
    "random": RandomSamplerConfig,
    "tpe": TPESamplerConfig,
    "gp": GPSamplerConfig,
    "motpe": MOTPESamplerConfig,
    "grid": GridSamplerConfig,
    "cmaes": CmaEsSamplerConfig,
    "nsgaii": NSGAIISamplerConfig,
    "qmc": QMCSamplerConfig,
}
SCHEDULES = {"none": NoScheduleConfig, "asha": AshaScheduleConfig, "pbt": PbtScheduleConfig}
PRUNERS = {
    "none": NopPrunerConfig,
    "median": MedianPrunerConfig,
    "successive_halving": SuccessiveHalvingPrunerConfig,
    "hyperband": HyperbandPrunerConfig,
}


def _open(node: type) -> Any:
    """A sampler's fields as a plain node: a config that names another sampler's `_target_` over the default one
    (as hydra-optuna-sweeper's configs do over its TPE default) may set that sampler's own fields. Optuna checks
    them when the sweep builds the sampler, before any trial. So is the pruner `none`: it turns off the pruner
    of a config that sets that pruner's fields (`hydra/sweeper/pruner=none` on the command line), which the
    sweep then leaves aside. So are the schedules, for the same reason: the sweep checks their fields."""
    return OmegaConf.create(OmegaConf.to_container(OmegaConf.structured(node)))


def register() -> None:
    from sweepwise.spec import schema  # imported here: the app's schema is no plugin config

    store = ConfigStore.instance()
    schema.register(store)  # Hydra imports this module before it composes any config
    store.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="sweepwise")
    for name, node in SAMPLERS.items():
        store.store(group="hydra/sweeper/sampler", name=name, node=_open(node), provider="sweepwise")
    for name, node in PRUNERS.items():
        store.store(
            group="hydra/sweeper/pruner", name=name, node=_open(node) if name == "none" else node, provider="sweepwise"
        )
    for name, node in SCHEDULES.items():  # open: a sweep file written for one schedule may run under another
        store.store(group="hydra/sweeper/schedule", name=name, node=_open(node), provider="sweepwise")
    register_launchers(store)


register()
