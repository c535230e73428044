"""One run on several processes (`trainer.devices: N`), data-parallel with `torch.distributed` (gloo on the CPU,
NCCL on CUDA).

The process that runs the trial is rank 0: it alone logs, checkpoints, evaluates and reports to the sweep. It
starts ranks 1..N-1 as child processes that build the same model and data from the same (resolved) config and
train their slice of every batch; gradients are averaged by `DistributedDataParallel`, so N ranks at a global
batch B take the steps one process takes at batch B. Rank 0's word to stop (pruned, early stopping) is broadcast,
so every rank stops at the same epoch.

The rendezvous is a TCP store that rank 0 opens on a port the kernel picks, so trials on one machine never
collide. A rank that dies breaks the next collective on rank 0, which names the dead rank; rank 0 ending in any
way ends its ranks, and Linux kills them if rank 0 is killed.
"""

import contextlib
import ctypes
import datetime
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed import TCPStore  # type: ignore[attr-defined]  # exported at run time only
from torch.nn.parallel import DistributedDataParallel

from sweepwise.errors import ConfigError, SweepwiseError

HOST = "127.0.0.1"
# how long a collective waits for a rank before giving up (a rank that hangs rather than dies; a dead one breaks
# the connection at once): long enough for rank 0 to evaluate a large validation set while the others wait
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=30)
PR_SET_PDEATHSIG = 1
BROKEN_WAIT_S = 2.0  # a dead rank's end may lag the collective it broke on rank 0
ENDING_WAIT_S = 30.0  # the other ranks end right after the last epoch; rank 0 waits this long for them


class RankDied(SweepwiseError):
    """A rank of a multi-process run ended while the others still needed it (killed, out of memory, crashed):
    the run fails as a whole."""


@dataclass(frozen=True)
class Ranks:
    """This process's place among a run's processes; a plain run is rank 0 of 1."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0  # its rank among the run's processes on its machine

    @property
    def main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """A rank of a CUDA run takes the GPU of its local rank among those it sees; on the CPU all share it."""
        return torch.device("cuda", self.local_rank) if device.type == "cuda" and self.world > 1 else device

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module a training step calls: the model itself, or a DDP wrapper that averages gradients."""
        if self.world == 1:
            return model
        device = next(model.parameters()).device
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of `value` over the ranks (each rank's share is equal)."""
        if self.world > 1:
            dist.all_reduce(value)
            value = value / self.world
        return value

    def agree(self, reason: str | None) -> str | None:
        """Rank 0's reason to stop, on every rank."""
        if self.world == 1:
            return reason
        box = [reason]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def check_devices(devices: int, device: torch.device) -> int:
    """`trainer.devices` (its range is checked with the trainer's settings) against the machine: on CUDA each
    rank takes its own GPU among those the run sees."""
    if device.type == "cuda" and devices > torch.cuda.device_count():
        raise ConfigError("trainer.devices", devices, f"more than the {torch.cuda.device_count()} GPU(s) visible")
    if device.type == "mps" and devices > 1:
        raise ConfigError("trainer.devices", devices, "MPS runs one process per run")
    return devices


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _join(rank: int, world: int, port: int, backend: str, store: TCPStore | None = None) -> None:
    store = store or TCPStore(HOST, port, world, is_master=False, timeout=COLLECTIVE_TIMEOUT)
    dist.init_process_group(backend, store=store, rank=rank, world_size=world, timeout=COLLECTIVE_TIMEOUT)


def _rank_main(
    follow: Callable[..., None], arguments: tuple[Any, ...], rank: int, world: int, port: int, backend: str
) -> None:
    """A child rank: join the group, then train as `follow(*arguments, ranks)` says; having trained, it ends at
    once (`end_at_once`)."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is rank 0's to handle
    _join(rank, world, port, backend)
    follow(*arguments, Ranks(rank, world, rank))
    end_at_once()


def end_at_once() -> None:
    """End a rank r > 0 that has trained, with its output flushed and without the interpreter's teardown, where a
    collective library's destructor can abort the process (SIGABRT) and make a finished rank read as failed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@contextlib.contextmanager
def started_ranks(
    world: int, device: torch.device, follow: Callable[..., None], arguments: tuple[Any, ...]
) -> Iterator[Ranks]:
    """Rank 0 of `world` processes: ranks 1.. run `follow(*arguments, ranks)` (importable, and `arguments`
    picklable, as they start by spawning) while the caller trains as rank 0. CPU threads are split between them."""
    if world == 1:
        yield Ranks()
        return
    backend = backend_for(device)
    store = TCPStore(HOST, 0, world, is_master=True, timeout=COLLECTIVE_TIMEOUT, wait_for_workers=False)
    threads = torch.get_num_threads()
    per_rank = max(1, threads // world)
    context = multiprocessing.get_context("spawn")
    children: list[BaseProcess] = []
    saved_threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(per_rank)  # read by each child's torch as it starts
    try:
        for rank in range(1, world):
            child: BaseProcess = context.Process(
                target=_rank_main, args=(follow, arguments, rank, world, store.port, backend), daemon=False
            )
            child.start()
            children.append(child)
        _restore_env("OMP_NUM_THREADS", saved_threads)
        torch.set_num_threads(per_rank)
        _join(0, world, store.port, backend, store)
        try:
            yield Ranks(0, world)
        except SweepwiseError:
            raise  # rank 0's own error (its config, its data), which the other ranks met too
        except Exception as error:
            dead = _ended_badly(children, BROKEN_WAIT_S)
            if dead is not None:
                raise RankDied(dead) from error
            raise
        # rank 0's run went well: every other rank must have ended as well, or the ranks disagreed
        unwell = _ended_badly(children, ENDING_WAIT_S)
        if unwell is not None:
            raise RankDied(f"{unwell} after rank 0 finished its run")
    finally:
        _restore_env("OMP_NUM_THREADS", saved_threads)
        torch.set_num_threads(threads)
        if dist.is_initialized():
            dist.destroy_process_group()
        for child in children:
            child.join(timeout=5)
            if child.is_alive():
                child.kill()
                child.join()


def _ended_badly(children: list[BaseProcess], wait_s: float) -> str | None:
    """The first child rank that ended badly or has not ended within `wait_s`, said as an error."""
    deadline = time.monotonic() + wait_s
    for rank, child in enumerate(children, start=1):
        child.join(timeout=max(0.0, deadline - time.monotonic()))
        if child.exitcode is None:
            return f"rank {rank} of {len(children) + 1} has not ended"
        if child.exitcode < 0:
            return f"rank {rank} of {len(children) + 1} killed by {signal.Signals(-child.exitcode).name}"
        if child.exitcode > 0:
            return f"rank {rank} of {len(children) + 1} exited with code {child.exitcode}"
    return None


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
