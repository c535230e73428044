"""What sweepwise does to the standard library's fork server beyond its public API: stop it at once. Guarded by
`tests/test_multiprocessing_internals.py`, which starts a server through the public API and checks that it is
gone and that the public API starts a new one.

A sweep starts the server before it knows it will run a trial, so that the server's imports (seconds) overlap
its own. The server reads whether its parent lives only once those imports are done: a sweep that stops at once
(a bad value, Ctrl-C) would leave it importing for seconds, holding the command's output open; `_stop` alone
waits for that too.
"""

import contextlib
import os
import signal
from multiprocessing import forkserver
from typing import Any


def stop_fork_server() -> None:
    """Kill this process's fork server, if it started one, and reap it; the next pool starts a new one."""
    server: Any = forkserver._forkserver  # typeshed lists none of what follows
    if server._forkserver_pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server._forkserver_pid, signal.SIGKILL)
        server._stop()
