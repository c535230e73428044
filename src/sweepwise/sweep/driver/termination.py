"""SIGTERM to a sweep's own process (`kill`, a cluster ending the job the sweep runs in) stops it as Ctrl-C does:
its running trials are stopped and recorded as interrupted, its runs ended, so the same command resumes it. Left to
the default action, the process would die at once, leaving its workers training for nothing and its study and runs
RUNNING."""

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(KeyboardInterrupt):
    """Raised in the sweep's main thread on SIGTERM; handled wherever Ctrl-C is."""


def _raise_terminated(_signal: int, _frame: FrameType | None) -> None:
    raise Terminated


@contextmanager
def terminated_as_interrupted() -> Iterator[None]:
    """SIGTERM raises `Terminated` inside the block (in the main thread, where signal handlers can be set)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: the caller's handling stands
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
