"""SIGTERM to a sweep's own process (`kill`, a cluster ending the job the sweep runs in) stops it as Ctrl-C does:
its running trials are stopped and recorded as interrupted, its runs ended, so the same command resumes it. Left to
the default action, the process would die at once, leaving its workers training for nothing and its study and runs
RUNNING."""

import signal
from contextlib import AbstractContextManager
from types import FrameType

from sweepwise.sweep.signals import handling


class Terminated(KeyboardInterrupt):
    """Raised in the sweep's main thread on SIGTERM; handled wherever Ctrl-C is."""


def _raise_terminated(_signal: int, _frame: FrameType | None) -> None:
    raise Terminated


def terminated_as_interrupted() -> AbstractContextManager[None]:
    """SIGTERM raises `Terminated` inside the block (in the main thread, where signal handlers can be set)."""
    return handling(signal.SIGTERM, _raise_terminated)
