"""Config leaves as MLflow params (values under secret-looking keys redacted)."""

from collections.abc import Mapping
from typing import Any

from sweepwise.tracking.secrets import redact

MAX_PARAM_LENGTH = 6000


def flatten(tree: Any) -> dict[str, str]:
    """Every leaf of a nested mapping as `dotted.key -> str(value)`; lists stay whole (one param); values under
    secret-looking keys are `[redacted]`."""
    return _flatten(redact(tree))


def _flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    if not isinstance(tree, Mapping):
        return {prefix: _text(tree)}
    leaves: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        leaves.update(_flatten(value, path) if isinstance(value, Mapping) and value else {path: _text(value)})
    return leaves


def _text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_PARAM_LENGTH else text[: MAX_PARAM_LENGTH - 3] + "..."
