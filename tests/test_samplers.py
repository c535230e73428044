"""Every sampler a sweep can name (`hydra/sweeper/sampler=NAME`) is built from its config and samples a mixed
search space in a study, its dependencies installed with sweepwise's: a listed sampler never fails mid-sweep on a
missing module. `motpe`, which Optuna 4 removed, is refused in words of its own (`test_bad_input.py`)."""

import warnings

import optuna
import pytest
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hydra_plugins.sweepwise_plugins.config import SAMPLERS
from sweepwise.sweep.driver.samplers import REMOVED_SAMPLERS, build_sampler, is_grid

SPACE = {
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "dropout": FloatDistribution(0.0, 0.5),
    "width": IntDistribution(8, 64, log=True),
    "model": CategoricalDistribution(["mlp", "convnet"]),
}
GRID = {"lr": [1e-3, 1e-2], "dropout": [0.0, 0.5], "width": [8, 64], "model": ["mlp", "convnet"]}
TRIALS = 6


@pytest.mark.parametrize("name", [name for name in SAMPLERS if name != "motpe"])
def test_each_listed_sampler_samples_a_mixed_space_in_a_study(name: str):
    config = OmegaConf.to_container(OmegaConf.structured(SAMPLERS[name]))
    assert isinstance(config, dict) and config["_target_"] not in REMOVED_SAMPLERS
    sampler = build_sampler({**config, "seed": 0}, **({"search_space": GRID} if is_grid(config) else {}))
    study = optuna.create_study(sampler=sampler, direction="minimize")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the sampler was chosen
        for _ in range(TRIALS):
            trial = study.ask(SPACE)
            study.tell(trial, trial.params["lr"] * trial.params["width"] + trial.params["dropout"])
    assert len(study.trials) == TRIALS
    assert all(set(trial.params) == set(SPACE) for trial in study.trials)
