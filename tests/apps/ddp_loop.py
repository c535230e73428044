"""A user's own data-parallel loop: two processes (gloo) started with torch.multiprocessing, every rank reporting
each epoch to its trial, as DDP code does."""

import socket

import hydra
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from omegaconf import DictConfig

import sweepwise


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rank_main(rank: int, world: int, port: int, epochs: int, x: float) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    trial = sweepwise.current_trial()
    try:
        for epoch in range(1, epochs + 1):
            loss = torch.tensor((x - 0.3) ** 2 + 1.0 / epoch)
            dist.all_reduce(loss)
            stop = trial.report(epoch, {"val/loss": loss.item() / world}, objective="val/loss")
            print(f"rank {rank} epoch {epoch}", flush=True)
            if stop:
                print(f"rank {rank} stopped at epoch {epoch}", flush=True)
                return
    finally:
        dist.destroy_process_group()


@hydra.main(version_base="1.3", config_path="conf", config_name="ddp")
def main(cfg: DictConfig) -> float:
    mp.spawn(rank_main, args=(2, free_port(), cfg.epochs, cfg.x), nprocs=2)
    return (cfg.x - 0.3) ** 2


if __name__ == "__main__":
    main()
