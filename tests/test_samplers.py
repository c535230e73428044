"""Every sampler a sweep can name (`hydra/sweeper/sampler=NAME`) is built from its config and samples a mixed
search space in a study, its dependencies installed with sweepwise's: a listed sampler never fails mid-sweep on a
missing module. `motpe`, which Optuna 4 removed, is refused in words of its own (`test_bad_input.py`)."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import optuna
import pytest
from helpers import refusal
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sweep_helpers import TOY

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


BLOCKER = '''
import sys


class NoCmaes:
    """As if cmaes were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "cmaes":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoCmaes())
'''


@pytest.mark.slow
def test_a_sampler_whose_package_is_missing_stops_the_sweep_before_its_first_trial(tmp_path: Path):
    (tmp_path / "blocked").mkdir()
    (tmp_path / "blocked" / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "blocked")}
    command = [sys.executable, "-W", "error", str(TOY), "-m", "hydra/sweeper/sampler=cmaes"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert refusal(done) == (
        "error: hydra.sweeper.sampler._target_='optuna.samplers.CmaEsSampler': needs cmaes, which is not installed: "
        "pip install cmaes"
    )
    assert not (tmp_path / "studies").exists() and not (tmp_path / "mlflow.db").exists()
