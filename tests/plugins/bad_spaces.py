"""Custom search spaces with the mistakes users make (for `hydra.sweeper.custom_search_space`)."""

from typing import Any

import optuna


def misspelt_key(cfg: Any, trial: optuna.Trial) -> None:
    """Suggests a width, then reads a key the config does not have."""
    trial.suggest_int("model.width", 8, 32)
    if cfg.model.widht > 0:
        trial.suggest_float("model.dropout", 0.0, 0.5)
