"""Population-based training's decisions, from the study alone, so that a re-run after a kill decides as the killed
sweep would have: which members of a generation exploit (copy a top member's checkpoint) and the hyperparameters
each goes on with (explore: perturbed by a factor, or drawn afresh from the search space).

A member is a piece of work: its first trial's number names its folder and MLflow run, and each generation of it
is a trial that continues the one before (`continues`). A generation is decided once every member has reached it
(paused there) and none is running: the members all go on from the same step, as in the paper's synchronous form.
"""

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from sweepwise.errors import ConfigError
from sweepwise.spec.sweep_schedule import KEY, Pbt
from sweepwise.study.records import PAUSED_ATTR
from sweepwise.study.trials import continued_numbers, first_of_its_work
from sweepwise.sweep.driver.param_grammar import SearchSpace
from sweepwise.sweep.driver.rungs import is_paused, value_at

# searched keys sweepwise's training applies to a resumed run without a restart: the optimiser's settings are set
# on the loaded optimiser, and the model, data and trainer settings are built from the config
TRAINING_MUTABLE = ("optimizer.", "model.dropout", "data.augment.", "trainer.grad_clip", "schedule.")
STRUCTURAL = ("optimizer._target_", "schedule._target_")
# in another app's config, names of keys that shape a model or its steps: they cannot change mid-training
SHAPES = {
    "width", "depth", "hidden", "hidden_size", "hidden_dim", "layers", "n_layer", "n_layers", "num_layers", "heads",
    "n_head", "num_heads", "channels", "d_model", "embed_dim", "n_embd", "batch_size", "epochs", "max_epochs",
}  # fmt: skip


@dataclass(frozen=True)
class GoOn:
    """How one member goes on into its next generation: with its own params, or (exploiting) from the checkpoint
    of `parent` (a top member; `parent_trial` its latest trial) with that member's params explored."""

    member: int  # the number of its first trial, which names its folder and MLflow run
    paused: int  # its latest trial, paused at the end of the generation before `generation`
    generation: int  # the generation it goes on to train (2: the second interval)
    params: dict[str, Any]
    parent: int | None = None
    parent_trial: int | None = None


def members(trials: Sequence[FrozenTrial]) -> dict[int, FrozenTrial]:
    """Each member's latest trial (queued continuations aside), by member."""
    listed, latest = list(trials), {}
    for trial in listed:
        if trial.state != TrialState.WAITING:
            latest[first_of_its_work(trial, listed)] = trial
    return latest


def paused_members(trials: Sequence[FrozenTrial]) -> dict[int, FrozenTrial]:
    """The members whose latest trial is paused and not yet continued, by member."""
    continued = continued_numbers(list(trials))
    return {m: t for m, t in members(trials).items() if is_paused(t) and t.number not in continued}


def next_generation(
    paused: Mapping[int, FrozenTrial],
    schedule: Pbt,
    distributions: Mapping[str, BaseDistribution],
    maximize: bool,
) -> list[GoOn]:
    """How each of the `paused` members at the lowest generation goes on into the next, ranked by its value at
    the generation's end."""
    if not paused:
        return []
    generation = min(int(t.user_attrs[PAUSED_ATTR]) for t in paused.values())
    cohort = {m: t for m, t in paused.items() if int(t.user_attrs[PAUSED_ATTR]) == generation}
    values = {m: v for m, t in cohort.items() if (v := value_at(t, schedule.budget(generation))) is not None}
    ranked = sorted(values, key=lambda m: -values[m] if maximize else values[m])
    count = min(math.ceil(len(ranked) * schedule.quantile), len(ranked) // 2)
    top = ranked[:count]
    bottom = set(ranked[len(ranked) - count :]) | (set(cohort) - set(values))  # no value: as the worst
    decisions = []
    for member, trial in sorted(cohort.items()):
        draws = random.Random(f"{schedule.seed}:{generation}:{member}")
        if member in bottom and top:
            parent = draws.choice(top)
            params = explore(cohort[parent].params, distributions, schedule, draws)
            decisions.append(GoOn(member, trial.number, generation + 1, params, parent, cohort[parent].number))
        else:
            decisions.append(GoOn(member, trial.number, generation + 1, dict(trial.params)))
    return decisions


def explore(
    params: Mapping[str, Any], distributions: Mapping[str, BaseDistribution], schedule: Pbt, draws: random.Random
) -> dict[str, Any]:
    """`params` with each searched one drawn afresh (at `resample_probability`) or moved by a perturb factor."""
    explored = dict(params)
    for name, value in params.items():
        distribution = distributions.get(name)
        if distribution is None:
            continue
        if draws.random() < schedule.resample_probability:
            explored[name] = resample(distribution, draws)
        else:
            explored[name] = perturb(distribution, value, draws.choice(schedule.perturb_factors))
    return explored


def resample(distribution: BaseDistribution, draws: random.Random) -> Any:
    """A value drawn from `distribution` (log-uniform on a log scale)."""
    if isinstance(distribution, CategoricalDistribution):
        return draws.choice(distribution.choices)
    assert isinstance(distribution, FloatDistribution | IntDistribution)
    low, high = distribution.low, distribution.high
    if distribution.log:
        return within(distribution, math.exp(draws.uniform(math.log(low), math.log(high))))
    return within(distribution, draws.uniform(low, high))


def perturb(distribution: BaseDistribution, value: Any, factor: float) -> Any:
    """`value` times `factor`, kept within `distribution`; a whole number or a choice moves by at least one step
    (a neighbouring choice: up for a factor above 1, down below)."""
    if isinstance(distribution, CategoricalDistribution):
        choices = list(distribution.choices)
        index = choices.index(value) + (1 if factor > 1 else -1)
        return choices[min(max(index, 0), len(choices) - 1)]
    assert isinstance(distribution, FloatDistribution | IntDistribution)
    moved = value * factor
    if isinstance(distribution, IntDistribution) and round(moved) == value:
        moved = value + (distribution.step if factor > 1 else -distribution.step)
    return within(distribution, moved)


def within(distribution: FloatDistribution | IntDistribution, value: float) -> Any:
    """`value` clipped to the distribution's range and rounded to its step (an int for an int distribution)."""
    low, high, step = distribution.low, distribution.high, distribution.step
    if step is not None:
        value = low + round((value - low) / step) * step
    value = min(max(value, low), high)
    return round(value) if isinstance(distribution, IntDistribution) else float(value)


def check_population(
    schedule: Pbt, n_trials: int, space: SearchSpace, sweepwise_training: bool, custom_space: object
) -> None:
    """Refuse, in one line, a population of one, and a searched key that cannot change mid-training (a width, a
    depth, a batch size): a member that copies another's checkpoint goes on with perturbed values of every one."""
    if n_trials < 2:
        raise ConfigError("hydra.sweeper.n_trials", n_trials, "must be >= 2 under pbt: it is the population's size")
    if custom_space is not None:
        raise ConfigError(
            "hydra.sweeper.custom_search_space", "set", "pbt perturbs the params of hydra.sweeper.params only"
        )
    for key in space.distributions:
        name = key.lstrip("+")
        if schedule.mutable is not None:
            allowed = name in schedule.mutable
        elif sweepwise_training:
            allowed = name.startswith(TRAINING_MUTABLE) and name not in STRUCTURAL
        else:
            allowed = name.rsplit(".", 1)[-1] not in SHAPES
        if not allowed:
            raise ConfigError(
                space.key(key),
                space.typed.get(key, ""),
                "cannot change mid-training under pbt (a member goes on from another's checkpoint with perturbed "
                f"params; {_changeable(schedule, sweepwise_training)}): fix it, search it with "
                f"hydra/sweeper/schedule=asha, or list it in {KEY}.mutable if the training applies it on resuming",
            )


def _changeable(schedule: Pbt, sweepwise_training: bool) -> str:
    if schedule.mutable is not None:
        return f"it changes only {', '.join(schedule.mutable) or 'nothing'}"
    if sweepwise_training:
        return "it changes only the optimiser's settings, model.dropout, data.augment.*, trainer.grad_clip, schedule.*"
    return "a key named like a model's shape or its step count (width, depth, hidden, layers, batch_size, ...) cannot"
