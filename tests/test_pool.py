"""The worker pool: results as soon as each job ends, dead workers replaced, nothing lost."""

import time

from pool_jobs import die_on, sleep_then_echo

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
