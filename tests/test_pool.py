"""The worker pool: results as soon as each job ends, dead workers replaced, nothing lost."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from pool_jobs import die_on, sleep_then_echo, surroundings

from sweepwise.sweep.launch.early_start import TORCH_IMPORTS, WORKER_IMPORTS, worker_preload
from sweepwise.sweep.launch.worker_pool import WorkerPool, threads_per_worker
from sweepwise.sweep.outcome import Died


def collect(pool: WorkerPool, count: int) -> list:
    results = []
    while len(results) < count:
        results += pool.wait(10)
    return results


def test_a_short_job_is_reported_while_a_long_one_still_runs():
    pool = WorkerPool(sleep_then_echo, size=2)
    try:
        pool.submit("long", ("long", 2.0))
        pool.submit("short", ("short", 0.1))
        first = pool.wait(10)
        assert [key for key, _ in first] == ["short"]
        assert pool.busy_keys == ["long"] and pool.idle == 1
        ((key, (name, _, _, _)),) = collect(pool, 1)
        assert key == name == "long"
    finally:
        pool.shutdown()


def test_workers_are_reused_between_jobs():
    pool = WorkerPool(sleep_then_echo, size=1)
    try:
        pids = []
        for index in range(3):
            pool.submit(index, (str(index), 0.0))
            ((_, (_, pid, _, _)),) = collect(pool, 1)
            pids.append(pid)
        assert len(set(pids)) == 1
    finally:
        pool.shutdown()


def test_a_killed_worker_costs_only_its_own_job_and_is_replaced():
    pool = WorkerPool(die_on, size=2)
    try:
        pool.submit("a", "die")
        pool.submit("b", "ok")
        results = dict(collect(pool, 2))
        assert isinstance(results["a"], Died) and results["a"].reason == "process killed by SIGKILL"
        assert results["b"] == "ok"
        pool.submit("c", "again")
        pool.submit("d", "fine")
        assert dict(collect(pool, 2)) == {"c": "again", "d": "fine"}
    finally:
        pool.shutdown()


def test_kill_stops_a_running_job():
    pool = WorkerPool(sleep_then_echo, size=1)
    try:
        pool.submit("slow", ("slow", 30.0))
        time.sleep(0.5)
        started = time.time()
        pool.kill("slow")
        ((key, result),) = collect(pool, 1)
        assert key == "slow" and isinstance(result, Died) and time.time() - started < 10
    finally:
        pool.shutdown()


def test_threads_are_split_between_workers(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert threads_per_worker(4) == {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    assert threads_per_worker(16)["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads_per_worker(4) == {}


def test_a_worker_starts_in_the_sweeps_folder_and_environment_of_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Workers are forked from a server started once per process; a worker started after the sweep's process moved
    to another folder or changed its environment (a second sweep in one process, as in-process tests run) has that
    folder and environment, not the server's."""
    first = WorkerPool(surroundings, size=1)
    try:
        first.submit("first", ("SWEEPWISE_POOL_PROBE", []))
        collect(first, 1)
    finally:
        first.shutdown()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SWEEPWISE_POOL_PROBE", "set later")
    pool = WorkerPool(surroundings, size=1)
    try:
        pool.submit("job", ("SWEEPWISE_POOL_PROBE", []))
        ((_, (cwd, probe, _)),) = collect(pool, 1)
        assert (cwd, probe) == (str(tmp_path), "set later")
    finally:
        pool.shutdown()


PRELOADED = """
from pool_jobs import surroundings
from sweepwise.sweep.launch.worker_pool import WorkerPool
pool = WorkerPool(surroundings, size=1, preload=["sweepwise.sweep.trial.worker_imports"])
pool.submit("job", ("PATH", ["sweepwise.sweep.trial.trial_runner", "mlflow.store.tracking.sqlalchemy_store", "torch"]))
print(pool.wait(60)[0][1][2])
pool.shutdown()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no fork server on Windows: workers are spawned, nothing preloaded")
def test_a_worker_starts_with_the_trials_imports_done_and_without_torch():
    """A sweep's first workers start its fork server, which imports a trial's modules once for all its workers;
    never torch, whose OpenMP runtime would fix its thread count before a worker sets its own."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", PRELOADED],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {"sweepwise.sweep.trial.trial_runner": True, "mlflow.store.tracking.sqlalchemy_store": True}
    assert done.stdout.strip() == str({**imported, "torch": False})


TWO_JOBS = """
{imports}
from sweepwise.sweep.launch.worker_pool import WorkerPool
if __name__ == "__main__":
    pool = WorkerPool({job}, size=2, preload={preload})
    pool.submit("a", "a")
    pool.submit("b", "b")
    found = pool.wait(120)
    found += pool.wait(120) if len(found) < 2 else []
    print(sorted(result for _, result in found))
    pool.shutdown()
"""
SPLIT = TWO_JOBS.format(  # torch imported at the top of the main script, as training scripts import it
    imports="import torch\nfrom pool_jobs import torch_threads", job="torch_threads", preload=[]
)


def test_workers_split_the_cores_when_the_main_script_imports_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Each worker imports the main script before its first job: torch's thread count, fixed by then, is set again
    to the worker's share of the cores."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    script = tmp_path / "main.py"
    script.write_text(SPLIT)
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False, env=environment
    )
    assert done.returncode == 0, done.stderr[-2000:]
    share = threads_per_worker(2)["OMP_NUM_THREADS"]
    assert done.stdout.strip() == str([int(share)] * 2)


TORCH_PRELOADED = TWO_JOBS.format(
    imports="from pool_jobs import torch_at_start", job="torch_at_start", preload=[WORKER_IMPORTS, TORCH_IMPORTS]
)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc (Linux)")
def test_workers_of_a_torch_task_start_with_torch_and_dynamo_imported_and_their_own_thread_count(tmp_path: Path):
    """The server imports torch once for every worker, with one thread; each worker then runs torch with the
    threads it is given (here the user's OMP_NUM_THREADS=2), in an OpenMP pool of its own."""
    script = tmp_path / "main.py"
    script.write_text(TORCH_PRELOADED)
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "OMP_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=environment,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str([(True, True, 2, 1)] * 2)


def test_the_workers_server_imports_torch_for_a_torch_task_only():
    toy = OmegaConf.create({"x": 0.0})
    training = OmegaConf.create({"mode": "train", "trainer": {"epochs": 1}, "tracking": {}, "objective": {}})
    with_torch = [WORKER_IMPORTS, TORCH_IMPORTS]
    assert worker_preload(training) == with_torch
    if "torch" in sys.modules:  # a script that imported torch: its trials train with it
        assert worker_preload(toy) == with_torch
    else:
        assert worker_preload(toy) == [WORKER_IMPORTS]


SERVER_SIGNALS = """
import os, signal
from pathlib import Path
from sweepwise.sweep.launch.worker_pool import start_context
signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal (a test runner may ignore it)
start_context(["sweepwise.sweep.trial.worker_imports"])  # the server starts, and imports them for seconds
for status in Path("/proc").glob("[0-9]*/status"):
    try:
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        command = (status.parent / "cmdline").read_bytes()
    except OSError:
        continue
    if fields["PPid"].strip() == str(os.getpid()) and b"forkserver" in command:
        print("server ignores SIGINT:", bool(int(fields["SigIgn"], 16) >> (signal.SIGINT - 1) & 1))
print("here Ctrl-C interrupts:", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the fork server's signal mask in /proc")
def test_the_fork_server_ignores_ctrl_c_from_its_start_and_the_sweep_still_hears_it():
    """A Ctrl-C while the server imports its preloaded modules would print its traceback under the sweep's last
    line: the server is spawned with SIGINT ignored (read while it imports, before it could ignore it itself), and
    the sweep's own handling is restored at once."""
    done = subprocess.run(
        [sys.executable, "-c", SERVER_SIGNALS], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["server ignores SIGINT: True", "here Ctrl-C interrupts: True"]


KILLED_WHILE_A_JOB_RUNS = """
import os, signal, time
from pool_jobs import sleep_then_echo
from sweepwise.sweep.launch.worker_pool import WorkerPool
if __name__ == "__main__":
    pool = WorkerPool(sleep_then_echo, 1)
    pool.submit("job", ("job", 60.0))
    time.sleep(0.3)  # the job is running
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_worker_whose_sweep_was_killed_dies_with_it_quietly(tmp_path: Path):
    """The sweep's process killed (SIGKILL, as `kill -9` of it alone) while a job runs: the worker dies at once,
    not at the end of its job (its result has no one to go to; the sweep's re-run settles the trial), and prints
    nothing."""
    script = tmp_path / "main.py"
    script.write_text(KILLED_WHILE_A_JOB_RUNS)
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    started = time.monotonic()
    done = subprocess.run(  # the output pipes stay open until the worker, which shares them, has ended too
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False, env=environment
    )
    assert done.returncode == -9 and done.stderr == ""
    assert time.monotonic() - started < 30  # the worker did not run its 60 s job to its end


KILLED_IN_A_WHOLE_STEP = """
import os, signal, sys, time
from pool_jobs import whole_step_then_sleep
from sweepwise.sweep.launch.worker_pool import WorkerPool
if __name__ == "__main__":
    pool = WorkerPool(whole_step_then_sleep, 1)
    pool.submit("job", (sys.argv[1], 2.0))
    time.sleep(1.0)  # the job is in its step
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_worker_whose_sweep_was_killed_ends_the_step_under_way_first(tmp_path: Path):
    """As a checkpoint and the epoch line that says it was kept: the worker dies after the whole step, not in it,
    and not at the end of its job."""
    script, marks = tmp_path / "main.py", tmp_path / "marks.txt"
    script.write_text(KILLED_IN_A_WHOLE_STEP)
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script), str(marks)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
    )
    assert done.returncode == -9 and done.stderr == ""
    assert marks.read_text().split() == ["started", "ended"]
    assert time.monotonic() - started < 30  # the worker did not sleep out its job
