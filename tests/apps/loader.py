"""A task as training scripts write it: a DataLoader with two worker processes and a lambda as its `collate_fn`
(which a process started by pickling could not run). Prints the start method its workers had and what they loaded;
returns x squared."""

import multiprocessing

import hydra
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, TensorDataset


@hydra.main(version_base="1.3", config_path="conf", config_name="toy")
def loader(cfg: DictConfig) -> float:
    batches = DataLoader(
        TensorDataset(torch.arange(8.0)),
        batch_size=4,
        num_workers=2,
        collate_fn=lambda rows: torch.stack([row[0] for row in rows]),
    )
    total = sum(float(batch.sum()) for batch in batches)
    print(f"start method {multiprocessing.get_start_method()}, loaded {total}")
    return float(cfg.x) ** 2


if __name__ == "__main__":
    loader()
