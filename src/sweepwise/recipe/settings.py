"""The `recipe` section of the config, checked before anything runs."""

from typing import cast

from omegaconf import DictConfig, OmegaConf

from sweepwise.errors import ConfigError

MAX_ENSEMBLE = 5

MODES = ("fail", "warn", "off")


def preflight_mode(cfg: DictConfig) -> str:
    """`recipe.preflight` (fail, warn or off); `off` for apps without a recipe section."""
    mode = OmegaConf.select(cfg, "recipe.preflight", default="off")
    if mode not in MODES:
        raise ConfigError("recipe.preflight", mode, f"must be one of {', '.join(MODES)}")
    return cast(str, mode)  # one of MODES


def ensemble_size(cfg: DictConfig) -> int:
    """`recipe.ensemble_top_k`: how many of a sweep's best trials to ensemble at its end (0: none)."""
    k = OmegaConf.select(cfg, "recipe.ensemble_top_k", default=0) or 0
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= MAX_ENSEMBLE:
        raise ConfigError("recipe.ensemble_top_k", k, f"must be an integer from 0 (off) to {MAX_ENSEMBLE}")
    return k
