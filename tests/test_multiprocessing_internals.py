"""`sweepwise.internals.multiprocessing_internals` against the standard library's public fork-server API."""

import multiprocessing
import os
import time
from multiprocessing import forkserver
from pathlib import Path

import pytest

from sweepwise.internals.multiprocessing_internals import stop_fork_server


def _pid() -> int:
    return os.getpid()


def test_a_fork_server_still_importing_is_stopped_at_once_and_the_next_pool_gets_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "slow_to_import.py").write_text("import time\ntime.sleep(60)\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the server is started with this process's path
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["slow_to_import"])
    forkserver.ensure_running()
    server = forkserver._forkserver._forkserver_pid
    started = time.monotonic()
    stop_fork_server()
    assert time.monotonic() - started < 5  # not the minute its import takes
    with pytest.raises(ProcessLookupError):
        os.kill(server, 0)  # gone, and reaped
    stop_fork_server()  # none running: nothing to do
    context.set_forkserver_preload([])
    with context.Pool(1) as pool:  # the public API starts a new server and forks from it
        assert pool.apply(_pid) != os.getpid()
    stop_fork_server()
