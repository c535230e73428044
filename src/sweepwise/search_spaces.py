"""Define-by-run search spaces for `hydra.sweeper.custom_search_space`: parameters that depend on others."""

from omegaconf import DictConfig
from optuna.trial import Trial

# (depth low, depth high, depth step, width low, width high) per model family; widths on a log scale
ARCHITECTURES = {
    "mlp": (1, 4, 1, 32, 512),
    "convnet": (1, 4, 1, 8, 64),
    "resnet": (10, 18, 8, 8, 64),
}


def architecture(cfg: DictConfig, trial: Trial) -> None:
    """Depth and width ranges that suit the model family the trial drew (`model` must be searched first)."""
    depth_low, depth_high, depth_step, width_low, width_high = ARCHITECTURES[trial.params["model"]]
    trial.suggest_int("model.depth", depth_low, depth_high, step=depth_step)
    trial.suggest_int("model.width", width_low, width_high, log=True)
