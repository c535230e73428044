"""Errors that sweepwise reports to the user as a single line."""

import re
from typing import Any

from hydra.errors import OverrideParseException
from omegaconf.errors import OmegaConfBaseException

# lines of Hydra's and OmegaConf's messages that say nothing about the culprit
NOISE = ("See https://", "full_key:", "object_type=", "reference_type=", "Set the environment variable")
URL_PASSWORD = re.compile(r"(://[^/:@\s'\"]+):[^@\s/'\"]+@")
SECRET_WORDS = frozenset({"password", "passwd", "pwd", "token", "secret", "secrets", "key", "apikey", "credentials"})
HIDDEN_PASSWORD = "[redacted]"


def hide_password(text: str) -> str:
    """A text with the password of every URL in it hidden: `postgresql://me:[redacted]@host/db`."""
    return URL_PASSWORD.sub(rf"\1:{HIDDEN_PASSWORD}@", text)


def is_secret(key: str) -> bool:
    """True when a word of the dotted key is a secret word: `db.password`, `api_key`, `hub.token`."""
    return any(word in SECRET_WORDS for word in re.split(r"[^a-z0-9]+", key.lower()))


class SweepwiseError(Exception):
    """Base class: anything the user can fix, printed as one line without a traceback."""


class ConfigError(SweepwiseError):
    """A config key holds a value that cannot work."""

    def __init__(self, key: str, value: Any, reason: str) -> None:
        self.key, self.value, self.reason = key, value, reason
        super().__init__(hide_password(f"{key}={value!r}: {reason}"))  # a database URL's password stays private


class DataError(SweepwiseError):
    """The data behind a config is unusable (corrupt file, NaN, bad label)."""


class TrainingDiverged(SweepwiseError):
    """The training loss became NaN or infinite."""


def first_line(error: BaseException | str) -> str:
    """An exception's (or a message's) first non-blank line (its type name when it has no message), for one-line
    errors."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def one_line(error: BaseException) -> str:
    """A Hydra or OmegaConf error (or any multi-line one) as one line that keeps what names the culprit."""
    message = str(error).split("Config search path:")[0]
    lines = [line.strip() for line in message.splitlines()]
    text = " ".join(line for line in lines if line and not line.startswith(NOISE))
    if isinstance(error, OverrideParseException):
        return f"{error.override!r}: cannot parse this override ({text})"
    cause = error.__cause__
    if isinstance(cause, OmegaConfBaseException) and str(cause).splitlines()[0] not in text:
        text = f"{text} ({str(cause).splitlines()[0]})"
    key = getattr(error, "full_key", None)
    return f"{key}: {text}" if key and key not in text else text
