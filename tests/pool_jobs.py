"""Module-level job functions for the worker-pool tests (a worker finds its job by import)."""

import os
import signal
import sys
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


def surroundings(job: tuple[str, list[str]]) -> tuple[str, str | None, dict[str, bool]]:
    """The worker's working directory, the environment variable `job[0]`, and which of the modules `job[1]` the
    worker had imported before this job."""
    variable, modules = job
    return os.getcwd(), os.environ.get(variable), {name: name in sys.modules for name in modules}


def torch_threads(job: str) -> int:
    """The threads torch uses in the worker running `job`."""
    import torch

    return torch.get_num_threads()


def torch_at_start(job: str) -> tuple[bool, bool, int, int]:
    """Whether torch and TorchDynamo were imported before the job, the threads torch then uses, and the OpenMP
    threads a parallel matrix product of the job starts in this process (its own pool, not a copy of the server's)."""
    imported = "torch" in sys.modules, "torch._dynamo" in sys.modules
    import torch

    a = torch.randn(512, 512)
    before = len(os.listdir("/proc/self/task"))
    for _ in range(3):
        a = torch.tanh(a @ a)
    return (*imported, torch.get_num_threads(), len(os.listdir("/proc/self/task")) - before)


def whole_step_then_sleep(job: tuple[str, float]) -> None:
    """Write `started` to the file `job[0]`, and `ended` after `job[1]` seconds, in one whole step; then sleep."""
    from sweepwise.training.whole_steps import whole_step

    path, seconds = job
    with whole_step(), open(path, "a") as marks:
        print("started", file=marks, flush=True)
        time.sleep(seconds)
        print("ended", file=marks, flush=True)
    time.sleep(60.0)
