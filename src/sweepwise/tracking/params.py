"""Config leaves as MLflow params."""

from collections.abc import Mapping
from typing import Any

MAX_PARAM_LENGTH = 6000


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """Every leaf of a nested mapping as `dotted.key -> str(value)`; lists stay whole (one param)."""
    if not isinstance(tree, Mapping):
        return {prefix: _text(tree)}
    leaves: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        leaves.update(flatten(value, path) if isinstance(value, Mapping) and value else {path: _text(value)})
    return leaves


def _text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_PARAM_LENGTH else text[: MAX_PARAM_LENGTH - 3] + "..."
