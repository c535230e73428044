"""The toy a new user sweeps first: a noisy quadratic, written for hydra-optuna-sweeper and run unchanged by both.

Each call appends its start (seconds since the epoch) to `starts.txt` in the folder the command ran in, so the
bench can measure the time from the command to the first trial's start.
"""

import random
import time
from pathlib import Path

import hydra
from hydra.utils import get_original_cwd
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def quadratic(cfg: DictConfig) -> float:
    with open(Path(get_original_cwd()) / "starts.txt", "a") as starts:
        starts.write(f"{time.time()}\n")
    noise = random.Random(cfg.seed).gauss(0.0, 0.1)
    return (cfg.x - 2.0) ** 2 + (cfg.y + 1.0) ** 2 + noise


if __name__ == "__main__":
    quadratic()
