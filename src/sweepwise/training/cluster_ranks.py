"""Ranks a cluster started: a run whose processes are the tasks of one SLURM job (`trainer.devices` per node, on
`nodes` nodes), rather than children that rank 0 spawns.

The job's launcher tells each task its place (`ClusterRank`, through the environment). Task 0, which runs the
trial, opens the meeting point before anything else (`meeting_point`): a TCP store on a port the kernel picks, its
address written to a file in the job's folder, which every node mounts. The other tasks read it and wait in the
store for what to run (`follow_rank_zero`): the training call rank 0 posts once its run is set up. If rank 0 ends
first (its trial failed before training, or is over), its store goes with it and the waiting tasks end too, so
no task outlives the trial.
"""

import atexit
import contextlib
import os
import pickle
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed import TCPStore  # type: ignore[attr-defined]  # exported at run time only

from sweepwise.errors import ConfigError, SweepwiseError, first_line
from sweepwise.training.distributed import COLLECTIVE_TIMEOUT, RankDied, Ranks, backend_for, end_at_once

PLACE_ENV = "SWEEPWISE_CLUSTER_RANK"
FOLLOW_KEY = "sweepwise/follow"
POLL_S = 0.5

_meeting: TCPStore | None = None  # the store task 0 opened, for the trial it runs


@dataclass(frozen=True)
class ClusterRank:
    """A task's place in its run: its rank, the run's processes, its rank on its node, the processes per node, and
    the file where rank 0 writes where to meet."""

    rank: int
    world: int
    local_rank: int
    per_node: int
    rendezvous: Path
    rank_zero_ended: Path  # a file that exists once task 0 has ended (its result)

    def environment(self) -> dict[str, str]:
        fields = (self.rank, self.world, self.local_rank, self.per_node, self.rendezvous, self.rank_zero_ended)
        return {PLACE_ENV: "\n".join(str(field) for field in fields)}

    @classmethod
    def of_environment(cls) -> "ClusterRank | None":
        """This process's place, when a cluster started the run's processes."""
        value = os.environ.get(PLACE_ENV)
        if not value:
            return None
        rank, world, local_rank, per_node, rendezvous, ended = value.split("\n")
        return cls(int(rank), int(world), int(local_rank), int(per_node), Path(rendezvous), Path(ended))


@contextlib.contextmanager
def meeting_point(place: ClusterRank) -> Iterator[None]:
    """Task 0: open the store and write its address for the other tasks, for as long as the trial runs."""
    global _meeting
    host = _own_address()
    store = TCPStore(host, 0, place.world, is_master=True, timeout=COLLECTIVE_TIMEOUT, wait_for_workers=False)
    written = place.rendezvous.with_name(f".{place.rendezvous.name}.tmp")
    written.write_text(f"{host}:{store.port}")
    os.replace(written, place.rendezvous)
    _meeting = store
    try:
        yield
    finally:
        _meeting = None
        place.rendezvous.unlink(missing_ok=True)


@contextlib.contextmanager
def cluster_rank_zero(
    place: ClusterRank, devices: int, device: torch.device, follow: Callable[..., None], arguments: tuple[Any, ...]
) -> Iterator[Ranks]:
    """Rank 0 of the job's tasks: post `follow(*arguments, ranks)` for the others and join them."""
    if devices != place.per_node:
        raise ConfigError(
            "trainer.devices", devices, f"differs from the {place.per_node} processes per node the job was started with"
        )
    if _meeting is None:
        raise RuntimeError("no meeting point: the job's task 0 must run its trial inside `meeting_point`")
    backend = backend_for(device)
    _meeting.set(FOLLOW_KEY, pickle.dumps((follow, arguments, backend)))  # type: ignore[arg-type]  # bytes work
    dist.init_process_group(backend, store=_meeting, rank=0, world_size=place.world, timeout=COLLECTIVE_TIMEOUT)
    try:
        yield Ranks(0, place.world, place.local_rank)
    except SweepwiseError:
        raise
    except dist.DistError as error:
        raise RankDied(f"a process of the run's {place.world} stopped: {first_line(error)}") from error
    finally:
        dist.destroy_process_group()


def follow_rank_zero(place: ClusterRank) -> None:
    """Task r > 0: meet rank 0, then train as it posts (nothing, if its trial ends before it trains)."""
    address = _address(place)
    if address is None:
        return  # task 0 ended before it could meet
    host, port = address
    store = TCPStore(host, port, place.world, is_master=False, timeout=COLLECTIVE_TIMEOUT)
    try:
        follow, arguments, backend = pickle.loads(store.get(FOLLOW_KEY))
    except dist.DistError:
        return  # rank 0's trial ended without training: its store is gone
    dist.init_process_group(backend, store=store, rank=place.rank, world_size=place.world, timeout=COLLECTIVE_TIMEOUT)
    try:
        follow(*arguments, Ranks(place.rank, place.world, place.local_rank))
    finally:
        dist.destroy_process_group()
    # the job's launcher writes this task's result once this returns; the process then ends without its teardown
    atexit.register(end_at_once)


def _own_address() -> str:
    """This node's name as the other nodes reach it; the loopback address when the name does not resolve (then
    only tasks on this node can meet, as on a one-node cluster)."""
    name = socket.gethostname()
    try:
        socket.getaddrinfo(name, None)
    except OSError:
        return "127.0.0.1"
    return name


def _address(place: ClusterRank) -> tuple[str, int] | None:
    """Rank 0's store address, once it has written it; None if task 0 ended first (it failed to start)."""
    deadline = time.monotonic() + COLLECTIVE_TIMEOUT.total_seconds()
    while not place.rendezvous.exists():
        if place.rank_zero_ended.exists():
            return None
        if time.monotonic() > deadline:
            raise RankDied(f"rank 0 never wrote where to meet ({place.rendezvous})")
        time.sleep(POLL_S)
    host, port = place.rendezvous.read_text().rsplit(":", 1)
    return host, int(port)
