"""Steps of a training whose parts must all happen or none, such as an epoch's checkpoint and the line that says the
epoch was kept. A thread that kills its own process (a sweep's worker whose sweep was killed) waits for the step
under way to end first: killed between the two, a resumed training would skip the epoch's line, as the checkpoint
holds the epoch and it is not trained again."""

import threading
from contextlib import AbstractContextManager

GRACE_SECONDS = 60.0  # the longest a kill waits for a step (a checkpoint written to a hung file system never ends)

_STEP = threading.Lock()


def whole_step() -> AbstractContextManager[bool]:
    """The block is one whole step: a kill from another thread waits for it (see `wait_for_whole_step`)."""
    return _STEP


def wait_for_whole_step() -> None:
    """Return once no step is under way, holding off any other, so that the caller may kill the process; or once
    `GRACE_SECONDS` have passed."""
    _STEP.acquire(timeout=GRACE_SECONDS)
