"""A task whose module holds state that cannot be pickled (a lock guarding a cache), as real apps' modules do."""

import threading

import hydra
from omegaconf import DictConfig

CACHE_LOCK = threading.Lock()
CACHE: dict[float, float] = {}


@hydra.main(version_base="1.3", config_path="conf", config_name="toy")
def stateful(cfg: DictConfig) -> float:
    with CACHE_LOCK:
        value = CACHE.setdefault(cfg.x, (cfg.x - 0.3) ** 2)
    if cfg.behaviour == "raise":
        raise ValueError("planted failure")  # the line a trial's log must name
    return value


if __name__ == "__main__":
    stateful()
