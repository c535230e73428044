"""A signal's handling changed for a block of code and restored after it: only the main thread may do so, and
elsewhere the block runs with the handling it found."""

import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
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


@contextmanager
def deferred(*signums: signal.Signals) -> Iterator[None]:
    """The signals `signums` that arrive in the block take effect as it ends, with the handling found before it:
    for a step that must not stop half-way, as a worker's start, whose process would read half its instructions
    and print the unpickling error under the sweep's last line."""
    arrived: list[signal.Signals] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        arrived.append(signal.Signals(signum))

    with ExitStack() as stack:
        for signum in signums:
            stack.enter_context(handling(signum, note))
        yield
    if arrived:
        signal.raise_signal(arrived[0])
