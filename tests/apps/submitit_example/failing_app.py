"""A job that fails far from the caller: its cause and traceback must reach the user's terminal."""

import hydra
from omegaconf import DictConfig


def divide(cfg: DictConfig) -> float:
    return 1 / cfg.task


@hydra.main(version_base=None, config_path=".", config_name="config")
def failing_app(cfg: DictConfig) -> float:
    return divide(cfg)


if __name__ == "__main__":
    failing_app()
