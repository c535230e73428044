"""A signal's handling changed for a block of code and restored after it: only the main thread may do so, and
elsewhere the block runs with the handling it found."""

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers


@contextmanager
def handling(signum: signal.Signals, handler: Handler) -> Iterator[None]:
    try:
        previous = signal.signal(signum, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signum, previous)
