"""Prints its trial's params, reports steps 1 and 2 to it and returns the last. A plain multirun of it on Hydra's
basic launcher (`-m a=1,2`) runs its jobs one after another in this one process."""

import hydra
from omegaconf import DictConfig

import sweepwise


@hydra.main(version_base="1.3", config_path="conf", config_name="steps")
def main(cfg: DictConfig) -> float:
    trial = sweepwise.current_trial()
    print("params:", trial.params)
    print("folder:", trial.folder)
    for step in (1, 2):
        trial.report(step, {"loss": cfg.a / step})
    return float(cfg.a / 2)


if __name__ == "__main__":
    main()
