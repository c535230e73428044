"""A config node into its schema dataclass, and OmegaConf's type errors into sweepwise's one-line `ConfigError`.

A node composed from conf/ already carries its schema (Hydra checked its types); a plain one (a copy resolved for
another process, a config written by hand in a test) is merged onto the schema first, so it meets the same
checks. A key the schema lacks is refused by name: Hydra's `+key=value` adds one even to a structured node.
"""

import re
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar, cast, get_type_hints

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sweepwise.errors import ConfigError, first_line

T = TypeVar("T")
CONVERSION = re.compile(r"could not be converted to (\w+)")
EXPECTED = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false", "String": "a string"}


def typed(node: Any, schema: type[T], key: str) -> T:
    """`node` (the config at `key`) as an instance of `schema`, every check made; errors name the full key."""
    if not isinstance(node, DictConfig):
        raise ConfigError(key, node, f"must be a mapping of {', '.join(_field_names(schema))}")
    _refuse_unknown_keys(OmegaConf.to_container(node, resolve=False), schema, key)
    composed = OmegaConf.get_type(node) is schema  # OmegaConf names its keys from the root of the config
    try:
        return cast(T, OmegaConf.to_object(node if composed else OmegaConf.merge(OmegaConf.structured(schema), node)))
    except OmegaConfBaseException as error:
        raise value_error(error, "" if composed else key) from None


def _refuse_unknown_keys(values: Any, schema: type, key: str) -> None:
    if not isinstance(values, dict):
        return
    hints = get_type_hints(schema)
    known = _field_names(schema)
    for name, value in values.items():
        if name not in known:
            raise ConfigError(f"{key}.{name}", value, f"unknown key (known: {', '.join(known)})")
        if is_dataclass(hints[name]):
            _refuse_unknown_keys(value, hints[name], f"{key}.{name}")


def _field_names(schema: type) -> list[str]:
    return [field.name for field in fields(cast(Any, schema))]


def value_error(error: OmegaConfBaseException, prefix: str = "") -> ConfigError:
    """OmegaConf's error about one value as `key=value: reason` (`prefix` is the key of the node it was raised on,
    when OmegaConf names keys relative to it)."""
    key = ".".join(part for part in (prefix, str(getattr(error, "full_key", None) or "")) if part)
    message = first_line(error)
    return ConfigError(key or "config", getattr(error, "value", None), _reason(message) or message)


def compose_value_error(error: BaseException) -> ConfigError | None:
    """The value a composition refused (a wrong type for its field, on the command line or in a config file), or
    None when `error` is not about one value."""
    cause: BaseException | None = error
    while cause is not None:
        about_a_value = getattr(cause, "full_key", None) and _reason(first_line(cause))
        if isinstance(cause, OmegaConfBaseException) and about_a_value:
            return value_error(cause)
        cause = cause.__cause__
    return None


def _reason(message: str) -> str | None:
    """What a value must be, from OmegaConf's message refusing it (None: the message is about something else)."""
    conversion = CONVERSION.search(message)
    if conversion:
        return f"must be {EXPECTED.get(conversion.group(1), conversion.group(1))}"
    if "is not a valid bool" in message:
        return "must be true or false"
    if "is not Optional" in message:
        return "must not be null"
    if "issing mandatory value" in message:
        return "is missing"
    return None
