"""Config leaves and override keys as MLflow params (values under secret-looking keys redacted)."""

import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sweepwise.tracking.secrets import redact, redact_overrides

MAX_PARAM_LENGTH = 6000
DELETED = "(deleted)"  # the param of a key an override deletes (`~model.width`)
# what MLflow accepts in a param, metric or tag name (on Windows, without the colon)
NOT_IN_MLFLOW_NAMES = re.compile(r"[^/\w.\- ]")


def mlflow_name(key: str) -> str:
    """A Hydra override key as an MLflow param or tag name. The override's own marks go (`+w`, `++w` and `~w` name
    `w`), and each character MLflow refuses becomes `_` (`db@backup` is `db_backup`). A name that a path would
    normalise to another name (`a//b`) keeps its parts apart with `_` too."""
    name = NOT_IN_MLFLOW_NAMES.sub("_", key.lstrip("+~"))
    return name if posixpath.normpath(name) == name or not name else name.replace("/", "_")


def param_value(key: str, value: Any) -> str:
    """The text a param records for override `key`: `(deleted)` for a deletion (`~key`), which sets no value (not
    None, which `key=null` sets), else the value's."""
    return DELETED if key.startswith("~") else _text(value)


def override_params(overrides: Sequence[str]) -> dict[str, str]:
    """Command-line overrides (`+lr=0.1`, `model=mlp`) as the params they set, by MLflow name (values of
    secret-looking keys redacted); a deletion (`~key`) sets none."""
    pairs = (override.partition("=") for override in redact_overrides(overrides))
    return {mlflow_name(key): _text(value) for key, separator, value in pairs if separator}


def flatten(tree: Any) -> dict[str, str]:
    """Every leaf of a nested mapping as `dotted.key -> str(value)`; lists stay whole (one param); values under
    secret-looking keys are `[redacted]`."""
    return _flatten(redact(tree))


def _flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    if not isinstance(tree, Mapping):
        return {prefix: _text(tree)}
    leaves: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}.{mlflow_name(str(key))}" if prefix else mlflow_name(str(key))
        leaves.update(_flatten(value, path) if isinstance(value, Mapping) and value else {path: _text(value)})
    return leaves


def _text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_PARAM_LENGTH else text[: MAX_PARAM_LENGTH - 3] + "..."
