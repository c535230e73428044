"""A pool of persistent worker processes: one job per worker at a time, results the moment they arrive.

Unlike `concurrent.futures.ProcessPoolExecutor`, a worker that dies (SIGKILL, segfault, out of memory) costs only
its own job, which is reported as died with its exit code, and is replaced; the other workers carry on. Waiting
blocks on the workers' pipes and process sentinels, so no time is lost polling and no CPU is burnt.

Workers are forked from a fork server that has imported what every worker needs (`preload`) once: a trial's
imports (MLflow, Hydra, the trial runner) cost ~3.5 s of CPU, which each spawned worker paid again. The server
starts fresh (spawned: no threads, no CUDA, no OpenMP runtime), so forking it is safe; each worker then takes the
sweep's working directory and environment as they are when it starts, not as they were when the server started.
"""

import contextlib
import ctypes
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Generic, TypeVar

import cloudpickle

from sweepwise.sweep.launch.executor import StartedJob
from sweepwise.sweep.outcome import Died
from sweepwise.sweep.signals import deferred, handling
from sweepwise.training.whole_steps import wait_for_whole_step

PR_SET_PDEATHSIG = 1

# what identifies a job in `wait` (a sweep's trial numbers)
K = TypeVar("K", bound=Hashable)


def exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"process killed by {signal.Signals(-exitcode).name}"
    return f"process exited with code {exitcode} before returning a result"


@dataclass
class _Worker(Generic[K]):
    process: BaseProcess
    connection: Connection
    slot: int  # its place in the pool, which fixes its environment (its GPUs)
    job_key: K | None = None


def _die_with(sweep: int) -> None:
    """Kill this worker when the sweep's process `sweep` ends, so no trial outlives a killed sweep. A worker's
    parent is the fork server, which stays while any worker it forked lives: Linux's parent-death signal alone
    would let a worker train on after a `kill -9` of the sweep."""
    if sys.platform.startswith("linux"):  # and, where the server is not in between, at once
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    threading.Thread(target=_kill_self_after, args=(sweep,), name="sweepwise-sweep-watch", daemon=True).start()


def _kill_self_after(pid: int) -> None:
    """Wait for process `pid` to end (a pidfd where Linux has them, else a check a second), then SIGKILL this one
    between two whole steps of its training."""
    try:
        select.select([os.pidfd_open(pid)], [], [])
    except ProcessLookupError:  # already gone
        pass
    except (AttributeError, OSError):  # no pidfds here (not Linux, or a kernel before 5.3)
        with contextlib.suppress(ProcessLookupError):
            while True:
                os.kill(pid, 0)
                time.sleep(1.0)
    wait_for_whole_step()
    os.kill(os.getpid(), signal.SIGKILL)


def threads_per_worker(workers: int) -> dict[str, str]:
    """Split the machine's cores between the workers (unless the user set the thread counts): two workers
    each running a 2-thread BLAS on 2 cores would fight for them and run many times slower."""
    if "OMP_NUM_THREADS" in os.environ:
        return {}
    threads = str(max(1, (os.cpu_count() or 1) // max(1, workers)))
    return {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def _apply_thread_count(environment: Mapping[str, str]) -> None:
    """A worker imports the sweep's main script before it runs (multiprocessing does, to find what is pickled),
    and a script that imports torch starts torch's OpenMP runtime then, which reads OMP_NUM_THREADS once: so
    torch is told the worker's thread count directly."""
    torch = sys.modules.get("torch")
    threads = environment.get("OMP_NUM_THREADS", "")
    if torch is not None and threads.isdigit():
        torch.set_num_threads(int(threads))


def start_context(preload: Sequence[str]) -> ForkServerContext | SpawnContext:
    """Fork server processes where the platform has them (Linux, macOS), preloaded with `preload`; else spawn.
    The server starts now, deaf to Ctrl-C as its workers are: Ctrl-C is the orchestrator's to handle, and one that
    reached the server while it imports `preload` would print its traceback under the sweep's last line."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    with handling(signal.SIGINT, signal.SIG_IGN):  # an ignored signal stays ignored in the spawned server
        forkserver.ensure_running()
    return context


def _worker_main(
    connection: Connection,
    runner_bytes: bytes,
    environment: dict[str, str],
    cwd: str,
    sweep: int,
    start_method: str | None,
) -> None:
    _die_with(sweep)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the orchestrator's to handle
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environment)
    _apply_thread_count(environment)
    # a worker forked from the server would start the task's own processes (a DataLoader's workers) through the
    # server too, pickling what they run and importing the script again: they start as in the sweep's process
    multiprocessing.set_start_method(start_method, force=True)
    runner: Callable[[Any], Any] = cloudpickle.loads(runner_bytes)
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        result = runner(job)
        try:
            connection.send(result)
        except OSError:  # the sweep was killed as the job ended: its re-run settles the trial
            return


class WorkerPool(Generic[K]):
    """`size` processes running `runner(job)` (runner pickled with cloudpickle) for submitted jobs; worker `i` (and
    any worker replacing it) starts with `environments[i]` set, e.g. the GPUs its jobs may use, and with the
    modules `preload` names imported."""

    job_kind = "worker process"

    def __init__(
        self,
        runner: Callable[[Any], Any],
        size: int,
        environments: Sequence[Mapping[str, str]] = (),
        preload: Sequence[str] = (),
    ) -> None:
        self._context = start_context(preload)
        self._start_method = multiprocessing.get_start_method(allow_none=True)  # None: the platform's default
        self._runner_bytes = cloudpickle.dumps(runner)
        threads = threads_per_worker(size)
        self._environments = [
            {**threads, **(environments[slot] if slot < len(environments) else {})} for slot in range(size)
        ]
        self._workers = [self._start_worker(slot) for slot in range(size)]

    def _start_worker(self, slot: int) -> _Worker[K]:
        parent_end, child_end = self._context.Pipe()
        environment = {**os.environ, **self._environments[slot]}
        process = self._context.Process(
            target=_worker_main,
            args=(child_end, self._runner_bytes, environment, os.getcwd(), os.getpid(), self._start_method),
            daemon=False,
        )
        with deferred(signal.SIGINT, signal.SIGTERM):  # stopped mid-start, it would get half its pickled start
            process.start()
            child_end.close()
        return _Worker(process, parent_end, slot)

    @property
    def idle(self) -> int:
        return sum(worker.job_key is None for worker in self._workers)

    @property
    def busy_keys(self) -> list[K]:
        return [worker.job_key for worker in self._workers if worker.job_key is not None]

    @property
    def held(self) -> int:
        return len(self._workers) - self.idle

    def dispatch(self) -> list[StartedJob]:
        """Every job starts as it is submitted."""
        return []

    def submit(self, key: K, job: Any) -> None:
        """Hand `job` to an idle worker; `key` identifies its result in `wait`."""
        worker = next(worker for worker in self._workers if worker.job_key is None)
        worker.job_key = key
        # if the worker died while idle, the send fails and wait() reports the job as died
        with contextlib.suppress(BrokenPipeError, OSError):
            worker.connection.send(job)

    def wait(self, timeout: float | None = None) -> list[tuple[K, Any]]:
        """Block until at least one busy worker finishes (or `timeout`); return (key, result or Died) pairs."""
        busy = [worker for worker in self._workers if worker.job_key is not None]
        if not busy:
            return []
        waitables = [w.connection for w in busy] + [w.process.sentinel for w in busy]
        ready = set(wait(waitables, timeout))
        finished: list[tuple[K, Any]] = []
        for worker in busy:
            if worker.connection not in ready and worker.process.sentinel not in ready:
                continue
            key, result = worker.job_key, self._receive(worker)
            assert key is not None  # `busy` holds the workers with a job
            worker.job_key = None
            if isinstance(result, Died):
                self._replace(worker)
            finished.append((key, result))
        return finished

    def _receive(self, worker: _Worker[K]) -> Any:
        try:
            if worker.connection.poll():
                return worker.connection.recv()
        except (EOFError, OSError):
            pass
        worker.process.join(timeout=5)
        return Died(exit_reason(worker.process.exitcode))

    def _replace(self, worker: _Worker[K]) -> None:
        worker.connection.close()
        self._workers[self._workers.index(worker)] = self._start_worker(worker.slot)

    def kill(self, key: K) -> None:
        """Stop the job `key` now; `wait` then reports it as died."""
        for worker in self._workers:
            if worker.job_key == key:
                worker.process.kill()

    def adopt(self, key: K, job_id: str, log_file: str | None) -> bool:
        """Never: workers die with the orchestrator that started them."""
        return False

    def cancel_stale(self, job_id: str) -> None:
        """Nothing to do: workers die with the orchestrator that started them."""

    def log_files(self, key: K) -> list[Path]:
        return []

    def shutdown(self) -> None:
        """Ask idle workers to exit, kill busy ones, and reap them all."""
        for worker in self._workers:
            if worker.job_key is None:
                with contextlib.suppress(BrokenPipeError, OSError):
                    worker.connection.send(None)
            else:
                worker.process.kill()
        for worker in self._workers:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.connection.close()
        self._workers = []
