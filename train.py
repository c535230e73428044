"""Train once: `python train.py [overrides]`; sweep: `python train.py -m sweeps=NAME`; the recipe's checks alone:
`python train.py mode=preflight`; the data report: `python train.py mode=inspect`."""

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from sweepwise.cli import MODES, run_app
from sweepwise.errors import ConfigError, SweepwiseError, one_line


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from mlflow.exceptions import MlflowException

    from sweepwise.app import train
    from sweepwise.recipe.inspection import run_inspect
    from sweepwise.recipe.preflight import run_standalone
    from sweepwise.spec.run import run_spec
    from sweepwise.tracking.retry import apply_retry_policy, gave_up, unreachable_error

    try:
        spec = run_spec(cfg)  # the config's one check
        apply_retry_policy(spec.tracking.retry)
        if cfg.mode not in MODES:
            raise ConfigError("mode", cfg.mode, "must be train, preflight or inspect")
        if cfg.mode == "preflight":
            raise SystemExit(run_standalone(cfg, spec))
        if cfg.mode == "inspect":
            raise SystemExit(run_inspect(cfg))
        return train(cfg, overrides=HydraConfig.get().overrides.task, spec=spec)
    except SweepwiseError as error:
        raise SystemExit(f"error: {error}") from None
    except OmegaConfBaseException as error:  # a missing value or an interpolation that cannot resolve
        raise SystemExit(f"error: {one_line(error)}") from None
    except MlflowException as error:
        if not gave_up(error):
            raise
        raise SystemExit(f"error: {unreachable_error(error)}") from None


if __name__ == "__main__":
    run_app(main, Path(__file__).parent / "conf")
