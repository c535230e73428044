"""What makes a study the same sweep: its definition (search space, fixed overrides, which include every plain
override of the command line, sampler, directions, objective metric, and the config the trials start from, as
its files give it), recorded on the study when it is created.

Running the same command again continues the study; a command that would sweep something else under the same
study name stops before anything is written, naming what differs and the two ways on. Not part of the definition:
`n_trials` (running more trials is what a re-run is for), `n_jobs`, the launcher, retries, the pruner, and the
overrides of `definition_ignores` (for sweepwise's own training by default: where trials log, how they print, the
recipe's checks; for another app, none unless its config names them). Fixed overrides compare by the value they
give (`lr=0.1` as `lr=1e-1`; `epochs=20` as no override where 20 is the config's value).
"""

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import optuna
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution

from sweepwise.errors import ConfigError
from sweepwise.study.records import DEFINITION_ATTR
from sweepwise.sweep.driver.param_grammar import SearchSpace, fixed_value, readable
from sweepwise.tracking.secrets import REDACTED, is_secret, redact

PARTS = (
    "search space", "fixed overrides", "sampler", "directions", "objective", "config", "group options", "schedule",
)  # fmt: skip
# parts recorded only when set: a study without one had none (every study before schedules, and any without one)
RECORDED_WHEN_SET = ("schedule",)
# what sweepwise's own training ignores by default: where a trial logs, how it prints, the recipe's checks
OWN_APP_IGNORES = ("tracking", "recipe", "trainer.progress", "trainer.device", "mode")
CONTINUE_HINT = "hydra.sweeper.on_change=continue"
NO_VALUE = "<no value>"  # what a deleted key, or one the config lacks, holds


def definition_of(
    space: SearchSpace,
    sampler: Mapping[str, Any],
    directions: Sequence[str],
    objective: str | None,
    ignores: Sequence[str] = (),
    config: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The study's definition as plain JSON data (so it compares the same after a round trip through storage).
    `config`: the task's config as composed (its interpolations unresolved, so `${now:...}` stays the same);
    `options`: what each config-group option the sweep searches or fixes holds (`option_leaves`), which the config
    leaves out (a searched key's values are the search's). The keys in `ignores` (or under them) are left out of
    every part."""
    definition = {
        "search space": {name: repr(distribution) for name, distribution in sorted(space.distributions.items())},
        "fixed overrides": redact(dict(sorted(space.fixed.items()))),  # the study is read by more people
        "sampler": {key: value for key, value in sorted(sampler.items()) if value is not None},
        "directions": list(directions),
        "objective": objective,
        "config": dict(sorted(_leaves(redact(config or {})).items())),
        "group options": dict(sorted((options or {}).items())),
    }
    result: dict[str, Any] = json.loads(json.dumps(ignoring(definition, ignores), default=str))
    return result


def ignoring(definition: Mapping[str, Any], ignores: Sequence[str]) -> dict[str, Any]:
    """`definition` without the fixed overrides and config keys under `ignores` (a study recorded before a key was
    ignored is compared without it too)."""
    parts = dict(definition)
    for part in ("fixed overrides", "config", "group options"):
        if isinstance(parts.get(part), Mapping):
            kept = parts[part].items()  # a group option's key starts with its group: `model=big: width`
            parts[part] = {key: value for key, value in kept if not _under(key.lstrip("+~").split("=")[0], ignores)}
    return parts


def ignored_keys(configured: Sequence[str] | None, own_app: bool) -> tuple[str, ...]:
    """`definition_ignores` as set; unset, sweepwise's own training ignores `OWN_APP_IGNORES`, and another app
    nothing: its own `task` or `tracking` key may change what it computes."""
    if configured is not None:
        return tuple(configured)
    return OWN_APP_IGNORES if own_app else ()


UnsetValue = Callable[[str], Any]  # the value a key has when no override sets it (see `differences`)


def differences(
    recorded: Mapping[str, Any], current: Mapping[str, Any], unset_value: UnsetValue | None = None
) -> list[str]:
    """What changed, as `part [key]: recorded -> current` (`-` for what one side lacks). Fixed overrides differ
    when the values they give differ: a key only one side overrides is compared with `unset_value(key)`."""
    changed = []
    for part in PARTS:
        if part not in recorded and part not in RECORDED_WHEN_SET:  # a study recorded before this part was
            continue
        before, after = recorded.get(part), current.get(part)
        if part == "config":  # a key searched or overridden by either run: its own part tells the difference
            named = [key.lstrip("+~") for side in (recorded, current) for key in _named(side)]
            before, after = _outside(before, named), _outside(after, named)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            same = _same_fixed(before, after, unset_value) if part == "fixed overrides" else _never
            changed += [
                f"{part} {key}: {_shown(key, before.get(key, '-'))} -> {_shown(key, after.get(key, '-'))}"
                for key in sorted(before.keys() | after.keys())
                if before.get(key) != after.get(key) and not same(key)
            ]
        else:
            changed.append(f"{part}: {_text(before)} -> {_text(after)}")
    return changed


def check_definition(
    study: optuna.Study,
    definition: Mapping[str, Any],
    on_change: str,
    unset_value: UnsetValue | None = None,
    ignores: Sequence[str] = (),
) -> bool:
    """Whether `study` (an existing one) is the sweep `definition` describes (left out: the keys under `ignores`);
    raises a one-line error when it was defined otherwise, unless `on_change` is continue. Returns whether the
    definition needs recording (a study made before definitions were recorded, or one continued under a new
    definition)."""
    recorded = study.user_attrs.get(DEFINITION_ATTR)
    if recorded is None:
        return True
    changed = differences(ignoring(recorded, ignores), definition, unset_value)
    if not changed:
        return not recorded.keys() >= definition.keys()  # a part recorded only from now on
    if on_change == "continue":
        return True
    raise ConfigError(
        "hydra.sweeper.study_name",
        study.study_name,
        f"this study was defined otherwise ({'; '.join(changed)}): give the sweep a new hydra.sweeper.study_name, "
        f"or add {CONTINUE_HINT} to go on with this study under the new definition",
    )


def check_continuable(study: optuna.Study, space: SearchSpace) -> None:
    """A study goes on under a new search space only where Optuna lets a parameter change within a study: its
    bounds, not its kind, its log scale or a choice's options. Refused in one line before anything is written;
    Optuna would fail the first trial that drew the parameter, after the new definition was recorded."""
    drawn: dict[str, BaseDistribution] = {}
    for trial in study.get_trials(deepcopy=False):
        for name, distribution in trial.distributions.items():
            drawn.setdefault(name, distribution)
    for name, new in space.distributions.items():
        old = drawn.get(name)
        if old is not None and not _may_follow(old, new):
            raise ConfigError(
                space.key(name),
                space.typed.get(name, str(new)),
                f"this study's trials drew {name} from {old}, and Optuna keeps a parameter's kind, log scale and "
                "choices for the life of a study: give the sweep a new hydra.sweeper.study_name",
            )


def _may_follow(old: BaseDistribution, new: BaseDistribution) -> bool:
    if type(old) is not type(new) or getattr(old, "log", False) != getattr(new, "log", False):
        return False
    return not isinstance(old, CategoricalDistribution) or old == new


def _never(_key: str) -> bool:
    return False


def _same_fixed(
    before: Mapping[str, Any], after: Mapping[str, Any], unset_value: UnsetValue | None
) -> Callable[[str], bool]:
    """Whether the two sides' fixed overrides give `key` the same value."""

    def value(overrides: Mapping[str, Any], key: str) -> str:
        if key in overrides:
            text = overrides[key]
            return _canonical(NO_VALUE if text is None else fixed_value(key, text))
        return _canonical(unset_value(key.lstrip("+~"))) if unset_value else "-"

    return lambda key: value(before, key) == value(after, key)


def _canonical(value: Any) -> str:
    """One text per value: numbers as floats (`1` is `1.0`), booleans apart from numbers, containers by content."""

    def plain(item: Any) -> Any:
        if isinstance(item, bool) or not isinstance(item, int | float):
            if isinstance(item, Mapping):
                return {str(k): plain(v) for k, v in item.items()}
            if isinstance(item, list | tuple):
                return [plain(v) for v in item]
            return item
        return float(item)

    return json.dumps(plain(value), sort_keys=True, default=str)


def _named(definition: Mapping[str, Any]) -> list[str]:
    """The keys a definition searches or overrides."""
    return [*definition.get("search space", {}), *definition.get("fixed overrides", {})]


def _outside(config: Any, named: Sequence[str]) -> Any:
    """`config`'s keys that are not `named` (nor under them)."""
    return (
        {key: value for key, value in config.items() if not _under(key, named)} if isinstance(config, dict) else config
    )


def option_leaves(name: str, value: Any, composed: DictConfig) -> dict[str, Any]:
    """What the config-group option `name=value` puts in `composed` (the job's config composed with it), as
    `name=value: dotted.key` leaves, its interpolations unresolved; none for a plain value. An edit of the option's
    file then changes the study's definition, as an edit of the config does."""
    node = OmegaConf.select(composed, name.lstrip("+~"), default=None, throw_on_resolution_failure=False)
    if not isinstance(node, DictConfig):
        return {}
    content = cast(dict[str, Any], OmegaConf.to_container(node, resolve=False))
    return {f"{name}={value}: {key}": leaf for key, leaf in _leaves(content).items()}


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as `dotted.key: value` (lists are values)."""
    leaves: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            leaves.update(_leaves(value, f"{path}."))
        else:
            leaves[path] = value
    return leaves


def _under(key: str, prefixes: Sequence[str]) -> bool:
    return any(key == prefix or key.startswith(f"{prefix}.") for prefix in prefixes)


def _shown(key: str, value: Any) -> str:
    """A value as a difference line shows it: a secret one (recorded before definitions were redacted) hidden."""
    return REDACTED if is_secret(key.split(": ")[-1]) and value != "-" else _text(value)


def _text(value: Any) -> str:
    """A recorded value as a person reads it: a fixed override without the escapes of Hydra's grammar."""
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else readable([value])
