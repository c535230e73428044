"""The `params` grammar of hydra-optuna-sweeper turned into Optuna distributions, checked before any trial runs.

| override                     | distribution                                   |
|------------------------------|------------------------------------------------|
| `interval(a, b)`             | FloatDistribution(a, b)                        |
| `int(interval(a, b))`        | IntDistribution(a, b)                          |
| `tag(log, interval(a, b))`   | FloatDistribution(a, b, log=True) (Int if int) |
| `range(a, b, step)`          | Int/FloatDistribution(a, b, step) as hydra-optuna-sweeper: b included |
| `shuffle(range(...))`, `choice(...)` | CategoricalDistribution                |
| a plain value                | a fixed override, not searched                 |
"""

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep, Transformer
from hydra.errors import HydraException
from optuna.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import Trial

from sweepwise.errors import ConfigError, first_line

PLAIN_STRING = re.compile(r"^[A-Za-z_][\w./@-]*$")
ESCAPED = re.compile(r"\\(.)")  # a character the override grammar escapes
KEYWORDS = {"null", "true", "false", "nan", "inf"}


@dataclass(frozen=True)
class SearchSpace:
    """Searched parameters (name -> distribution) and fixed overrides (name -> override text), with where each
    was defined and its value as typed, for error messages."""

    distributions: dict[str, BaseDistribution]
    fixed: dict[str, str | None]  # None: a deletion without a value (`~model.width`), whatever the value is
    sources: dict[str, str]
    typed: dict[str, str] = field(default_factory=dict)
    fixed_values: dict[str, Any] = field(default_factory=dict)  # what each fixed override sets (None: deleted)

    def key(self, name: str) -> str:
        """Where a parameter was defined, for error messages."""
        return self.sources.get(name, name)


def holds(space: SearchSpace, name: str, value: Any) -> bool:
    """Whether parameter `name`'s distribution can draw `value` (Optuna takes one it cannot, with a warning)."""
    distribution = space.distributions[name]
    if isinstance(distribution, CategoricalDistribution):
        return value in distribution.choices
    assert isinstance(distribution, FloatDistribution | IntDistribution)  # the grammar's other kinds
    return bool(distribution.low <= value <= distribution.high)


def parse_search_space(params: Mapping[str, Any] | None, arguments: Sequence[str]) -> SearchSpace:
    """`params` from the sweeper config, then command-line arguments (which win for the same key, whatever its
    `+` or `~`)."""
    lines = [(f"hydra.sweeper.params.{key}", f"{key}={value}") for key, value in (params or {}).items()]
    lines += [(argument.split("=", 1)[0], argument) for argument in arguments]
    parser = OverridesParser.create()
    distributions: dict[str, BaseDistribution] = {}
    fixed: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    typed: dict[str, str] = {}
    values: dict[str, Any] = {}
    for source, line in lines:
        try:
            override = parser.parse_override(line)
        except HydraException as error:
            raise ConfigError(source, line.split("=", 1)[-1], first_line(error)) from error
        name = override.get_key_element()
        for same in [key for key in sources if key.lstrip("+~") == name.lstrip("+~")]:  # `x` replaces `+x` too
            for entries in (distributions, fixed, values, sources, typed):
                entries.pop(same, None)
        sources[name], typed[name] = source, line.partition("=")[2]
        if override.is_sweep_override():
            distributions[name] = to_distribution(override, source, typed[name])
        elif override.is_delete() and override.value() is None:
            fixed[name], values[name] = None, None
        else:
            fixed[name], values[name] = override.get_value_element_as_str(), override.value()
    return SearchSpace(distributions, fixed, sources, typed, values)


def fixed_value(key: str, text: str) -> Any:
    """The value a fixed override's text sets `key` to (`0.1` a float, `[1, 2]` a list); text Hydra's grammar
    cannot read stands as it is."""
    try:
        return OverridesParser.create().parse_override(f"{key.lstrip('+~')}={text}").value()
    except HydraException:
        return text


def to_distribution(override: Override, key: str, text: str) -> BaseDistribution:
    """The distribution of a sweep override; `key` and `text` name it in errors. `log` is the one tag it reads,
    on an interval: any other tag, or `log` elsewhere, would be dropped and the space sampled otherwise."""
    value = override.value()
    tags = set(getattr(value, "tags", None) or ())
    if tags - {"log"}:
        unknown = ", ".join(sorted(tags - {"log"}))
        raise ConfigError(key, text, f"unknown tag {unknown}: the one tag read is log, as in tag(log, interval(a, b))")
    if tags and not isinstance(value, IntervalSweep):
        raise ConfigError(key, text, "tag(log, ...) applies to interval(a, b) alone")
    if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
        choices = list(override.sweep_iterator(transformer=Transformer.identity))
        for choice in choices:
            if not isinstance(choice, str | int | float | bool):
                raise ConfigError(key, text, f"choice {choice!r} is not a str, int, float or bool")
        if not choices:
            raise ConfigError(key, text, "has no choices")
        # each choice was checked above to be a str, int, float or bool
        return CategoricalDistribution(cast(list[CategoricalChoiceType], choices))
    if isinstance(value, RangeSweep):
        return _range_distribution(value, key, text)
    if isinstance(value, IntervalSweep):
        return _interval_distribution(value, key, text)
    raise ConfigError(key, text, "is not a sweep Optuna can sample (use interval, range or choice)")


def _range_distribution(value: RangeSweep, key: str, text: str) -> BaseDistribution:
    """As hydra-optuna-sweeper reads it: from `start` up to and including `stop`, on the step's grid (Hydra's own
    range stops before `stop`; a config written for the plugin means the plugin's space)."""
    start, stop, step = value.start, value.stop, value.step
    if step is None or step <= 0:
        raise ConfigError(key, text, "range step must be > 0")
    assert start is not None and stop is not None  # the override parser always sets both (range(n) starts at 0)
    if stop < start:
        raise ConfigError(key, text, f"range is empty: start {start} is above stop {stop}")
    # the last grid point not past `stop` (Optuna would move it there itself, with a warning)
    high = start + step * math.floor((stop - start) / step + 1e-9)
    if all(isinstance(x, int) for x in (start, stop, step)):
        return IntDistribution(int(start), int(high), step=int(step))
    return FloatDistribution(float(start), float(round(high, 12)), step=float(step))


def _interval_distribution(value: IntervalSweep, key: str, text: str) -> BaseDistribution:
    low, high, log = value.start, value.end, "log" in value.tags
    assert low is not None and high is not None  # the override parser always sets both ends
    if low > high:
        raise ConfigError(key, text, f"low {low} is above high {high}")
    if low == high:  # `int(...)` truncates both ends: int(interval(0.2, 0.9)) is the one value 0
        raise ConfigError(key, text, f"holds the one value {low}: a search needs low < high (set the key to a value)")
    if log and low <= 0:
        raise ConfigError(key, text, f"a log scale needs low > 0, got {low}")
    if isinstance(low, int) and isinstance(high, int):
        return IntDistribution(low, high, log=log)
    return FloatDistribution(float(low), float(high), log=log)


def suggest(trial: Trial, name: str, distribution: BaseDistribution) -> Any:
    """Sample one parameter through Optuna's public suggest API."""
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    assert isinstance(distribution, FloatDistribution)
    return trial.suggest_float(name, distribution.low, distribution.high, step=distribution.step, log=distribution.log)


def override_text(value: Any) -> str:
    """A sampled value written so that Hydra's override parser reads it back as the same value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if PLAIN_STRING.match(text) and text.lower() not in KEYWORDS:
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def trial_overrides(params: Mapping[str, Any], fixed: Mapping[str, str | None]) -> list[str]:
    return [f"{name}={override_text(value)}" for name, value in params.items()] + [
        name if value is None else f"{name}={value}" for name, value in fixed.items()
    ]


def readable(overrides: Sequence[str]) -> str:
    """Overrides as a person reads them, for a trial's start line: without the escapes Hydra's parser needs
    (`postgresql\\://` is `postgresql://`)."""
    return " ".join(ESCAPED.sub(r"\1", override) for override in overrides)


def grid_of(space: SearchSpace) -> dict[str, list[Any]]:
    """Every value of each parameter, for Optuna's GridSampler (discrete distributions only)."""
    grid: dict[str, list[Any]] = {}
    for name, distribution in space.distributions.items():
        if isinstance(distribution, CategoricalDistribution):
            grid[name] = list(distribution.choices)
            continue
        assert isinstance(distribution, IntDistribution | FloatDistribution)  # what `to_distribution` makes
        if distribution.step is not None and not distribution.log:
            count = round((distribution.high - distribution.low) / distribution.step) + 1
            values = [distribution.low + index * distribution.step for index in range(count)]
            grid[name] = values if isinstance(distribution, IntDistribution) else [round(v, 12) for v in values]
        else:
            typed = space.typed.get(name, repr(distribution))  # as the user wrote it
            raise ConfigError(space.key(name), typed, "the grid sampler needs choice() or range()")
    return grid
