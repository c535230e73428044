"""Errors that sweepwise reports to the user as a single line."""

from typing import Any


class SweepwiseError(Exception):
    """Base class: anything the user can fix, printed as one line without a traceback."""


class ConfigError(SweepwiseError):
    """A config key holds a value that cannot work."""

    def __init__(self, key: str, value: Any, reason: str) -> None:
        self.key, self.value, self.reason = key, value, reason
        super().__init__(f"{key}={value!r}: {reason}")


class DataError(SweepwiseError):
    """The data behind a config is unusable (corrupt file, NaN, bad label)."""


class TrainingDiverged(SweepwiseError):
    """The training loss became NaN or infinite."""


def first_line(error: BaseException) -> str:
    """An exception's first non-blank line (its type name when it has no message), for one-line errors."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
