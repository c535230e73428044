"""Values under keys that look secret (password, token, secret, key, ...) and the passwords in URLs (a database
store's `postgresql://user:password@host/db`) never reach MLflow: they are replaced by `[redacted]` in params, tags
and the logged config."""

from collections.abc import Mapping, Sequence
from typing import Any

from sweepwise.errors import HIDDEN_PASSWORD, hide_password, is_secret

REDACTED = HIDDEN_PASSWORD
__all__ = ["REDACTED", "is_secret", "redact", "redact_overrides"]


def redact(tree: Any, prefix: str = "") -> Any:
    """A copy of a nested mapping (or list) with every value under a secret-looking key replaced."""
    if isinstance(tree, Mapping):
        redacted = {}
        for key, value in tree.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            redacted[key] = REDACTED if is_secret(str(key)) else redact(value, path)
        return redacted
    if isinstance(tree, list | tuple):
        return [redact(item, prefix) for item in tree]
    return hide_password(tree) if isinstance(tree, str) else tree


def redact_overrides(overrides: Sequence[str]) -> list[str]:
    """`key=value` command-line overrides with the values of secret-looking keys replaced."""
    redacted = []
    for override in overrides:
        key, separator, _ = override.partition("=")
        redacted.append(f"{key}={REDACTED}" if separator and is_secret(key.lstrip("+~")) else hide_password(override))
    return redacted
