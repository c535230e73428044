"""A toy task for sweep tests: returns (x - 0.3)**2 after sleeping, or fails in a chosen way."""

import math
import os
import signal
import time
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="toy")
def toy(cfg: DictConfig) -> float:
    trial = HydraConfig.get().job.num
    if cfg.durations:
        time.sleep(cfg.durations[trial % len(cfg.durations)])
    else:
        time.sleep(cfg.long_sleep if trial in cfg.long_trials else cfg.short_sleep)
    if cfg.behaviour == "raise":
        raise ValueError(f"planted failure in trial {trial}")
    if cfg.behaviour == "return_nan":
        return math.nan
    if cfg.behaviour == "kill_once":
        marker = Path(HydraConfig.get().runtime.output_dir) / "killed-once"
        if not marker.exists():
            marker.write_text("")
            os.kill(os.getpid(), signal.SIGKILL)
    if cfg.behaviour == "hang_once":  # the first attempt hangs until it is killed; a retry returns at once
        marker = Path(HydraConfig.get().runtime.output_dir) / "hung-once"
        if not marker.exists():
            marker.write_text("")
            time.sleep(600)
    if cfg.behaviour == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if cfg.behaviour == "warn":
        warnings.warn("a deprecated call in the task", DeprecationWarning, stacklevel=1)
    return (cfg.x - 0.3) ** 2


if __name__ == "__main__":
    toy()
