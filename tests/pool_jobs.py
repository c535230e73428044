"""Module-level job functions for the worker-pool tests (workers are spawned, so jobs must be importable)."""

import os
import signal
import time


def sleep_then_echo(job: tuple[str, float]) -> tuple[str, int, float, float]:
    name, seconds = job
    started = time.time()
    time.sleep(seconds)
    return name, os.getpid(), started, time.time()


def die_on(job: str) -> str:
    if job == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return job


def visible_gpus(job: str) -> tuple[str, int, str | None]:
    """The GPUs the worker running `job` was given; a job named `die` kills its worker first."""
    if job == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return job, os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES")
