"""Before any trial runs: every value the search space can draw composes into the job's config, and (for
sweepwise's own training) passes the run's checks; a value that does not is named in one line."""

from typing import Any

import optuna
from hydra.errors import HydraException
from hydra.types import HydraContext
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from sweepwise.configure import is_sweepwise_training
from sweepwise.errors import ConfigError, first_line
from sweepwise.spec.convert import compose_value_error
from sweepwise.spec.run import run_spec
from sweepwise.sweep.driver.definition import option_leaves
from sweepwise.sweep.driver.param_grammar import SearchSpace, trial_overrides

Variant = tuple[dict[str, Any], list[str]]  # the values of a composition, and the names it varies


def check_overrides_compose(hydra_context: HydraContext, config: DictConfig, space: SearchSpace) -> dict[str, Any]:
    """Compose the job config for sample values of every parameter (every choice of a categorical one, both ends
    of a numeric one), so an unknown parameter path or config-group option is caught before any trial runs; a
    config of sweepwise's training also gets the run's own checks of its values on each, and a value they refuse
    is named as one the search space can draw. Returns what each config-group option drawn or fixed holds
    (`option_leaves`), for the study's definition."""
    training = is_sweepwise_training(config)
    if training:
        run_spec(config, resolve_paths=False)  # the base config's own mistakes, whatever the search space draws
    samples = {name: _sample(distribution) for name, distribution in space.distributions.items()}
    others = {name: _other_values(distribution) for name, distribution in space.distributions.items()}
    if training:  # the run's checks name the parameter whose value they refuse: one varied at a time
        one_by_one = [({**samples, name: value}, [name]) for name, values in others.items() for value in values]
        return _compose_each(hydra_context, config, space, [(samples, sorted(samples)), *one_by_one])
    # another app's config only has to compose: every parameter's next value at once, a composition each (one per
    # value cost a second or more of a small sweep's start); `_culprit` names the parameter of one that fails
    together = [
        ({**samples, **{name: values[i] for name, values in others.items() if i < len(values)}}, sorted(samples))
        for i in range(max((len(values) for values in others.values()), default=0))
    ]
    return _compose_each(hydra_context, config, space, [(samples, sorted(samples)), *together])


def _compose_each(
    hydra_context: HydraContext,
    config: DictConfig,
    space: SearchSpace,
    variants: list[Variant],
) -> dict[str, Any]:
    """Compose each variant, stopping at the first that fails, named."""
    options: dict[str, Any] = {}
    for variant, varied in variants:
        overrides = trial_overrides(variant, space.fixed)
        try:
            composed = hydra_context.config_loader.load_sweep_config(config, overrides)
        except (HydraException, OmegaConfBaseException) as error:
            raise _culprit(hydra_context, config, space, variant, error) from None
        for name, value in {**space.fixed, **variant}.items():
            options.update(option_leaves(name, value, composed))
        if not is_sweepwise_training(composed):
            continue
        try:
            run_spec(composed, resolve_paths=False)
        except ConfigError as error:
            drawn = [error.key] if error.key in variant else varied
            values = ", ".join(f"{name}={variant[name]!r}" for name in drawn)
            raise ConfigError(error.key, error.value, f"{error.reason} (the search space can draw {values})") from None
    return options


def _other_values(distribution: optuna.distributions.BaseDistribution) -> list[Any]:
    """Values to check besides the first: every other choice, the top of a range, and an integer range's second
    value (with the first, it shows whether every value is a multiple of something, as a batch split over
    processes must be)."""
    if hasattr(distribution, "choices"):
        return list(distribution.choices[1:])
    assert isinstance(distribution, optuna.distributions.IntDistribution | optuna.distributions.FloatDistribution)
    values = [distribution.high]
    if isinstance(distribution, optuna.distributions.IntDistribution):
        second = distribution.low + distribution.step
        values += [second] if second < distribution.high else []
    return values


def _culprit(
    hydra_context: HydraContext, config: DictConfig, space: SearchSpace, variant: dict[str, Any], error: Exception
) -> ConfigError:
    """The override that does not compose: fixed overrides first (in order), then each searched parameter on
    top of all the fixed ones; named by where it was defined, with its value as typed."""
    fixed = trial_overrides({}, space.fixed)
    candidates = [(name, fixed[: index + 1]) for index, name in enumerate(space.fixed)]
    candidates += [(name, [*fixed, *trial_overrides({name: value}, {})]) for name, value in variant.items()]
    for name, overrides in candidates:
        try:
            hydra_context.config_loader.load_sweep_config(config, overrides)
        except (HydraException, OmegaConfBaseException) as single_error:
            value = space.typed.get(name, overrides[-1].split("=", 1)[1])
            refused = compose_value_error(single_error)  # a value of the wrong type for the config's schema
            return ConfigError(space.key(name), value, refused.reason if refused else with_hint(single_error, name))
    return ConfigError("hydra.sweeper.params", dict(variant), first_line(error))


def with_hint(error: Exception, key: str) -> str:
    """The error's first line; where Hydra says the key is not in the config (and to append it with `+`), that
    too, in words that fit a search space, whose sampled value Hydra's own hint would show."""
    if "To append to your config use +" not in str(error):
        return first_line(error)
    return f"{first_line(error)} The config has no such key: check its spelling, or add it as +{key.lstrip('+')}"


def _sample(distribution: optuna.distributions.BaseDistribution) -> Any:
    if hasattr(distribution, "choices"):
        return distribution.choices[0]
    # the other distributions `to_distribution` makes
    assert isinstance(distribution, optuna.distributions.IntDistribution | optuna.distributions.FloatDistribution)
    return distribution.low
