"""Configs written for hydra-optuna-sweeper run unchanged: its sphere, multi-objective and custom-search-space
examples (tests/apps/compat, same shape as the upstream examples) sweep through sweepwise's plugin."""

import math
from pathlib import Path

import pytest
from helpers import REPO, run_script
from omegaconf import OmegaConf
from sweep_helpers import load_study, sweep_runs

pytestmark = pytest.mark.slow
COMPAT = REPO / "tests" / "apps" / "compat"


def results(cwd: Path) -> dict:
    (path,) = cwd.glob("multirun/*/*/optimization_results.yaml")
    return OmegaConf.to_container(OmegaConf.load(path))


def test_sphere_example(tmp_path: Path):
    done = run_script(COMPAT / "sphere.py", ["--multirun"], tmp_path)
    assert done.returncode == 0, done.stderr
    study = load_study(tmp_path, "sphere")
    assert len(study.trials) == 20 and type(study.sampler).__name__ == "TPESampler"
    found = results(tmp_path)
    assert found["name"] == "optuna" and set(found["best_params"]) == {"x", "y"}
    values = [t.value for t in study.trials]
    assert found["best_value"] == min(values) == found["best_params"]["x"] ** 2 + found["best_params"]["y"] ** 2
    assert {t.params["y"] for t in study.trials} <= {-5, 0, 5}
    assert all(-5.5 <= t.params["x"] <= 5.5 and (t.params["x"] * 2).is_integer() for t in study.trials)
    parents, children = sweep_runs(tmp_path, "sphere")
    assert len(parents) == 1 and len(children) == 20
    assert all("objective" in run.data.metrics and run.data.params["x"] for run in children)


def test_multi_objective_example_writes_the_pareto_front(tmp_path: Path):
    done = run_script(COMPAT / "multi-objective.py", ["--multirun"], tmp_path)
    assert done.returncode == 0, done.stderr
    study = load_study(tmp_path, "multi-objective")
    assert len(study.trials) == 20 and len(study.directions) == 2
    found = results(tmp_path)
    assert set(found) == {"name", "solutions"} and found["solutions"]
    for solution in found["solutions"]:
        x, y = solution["params"]["x"], solution["params"]["y"]
        assert solution["values"] == pytest.approx([4 * x**2 + 4 * y**2, (x - 5) ** 2 + (y - 5) ** 2])
    # no solution on the front is dominated by any trial
    for solution in found["solutions"]:
        assert not any(
            all(a <= b for a, b in zip(t.values, solution["values"], strict=True)) and t.values != solution["values"]
            for t in study.trials
        )
    _, children = sweep_runs(tmp_path, "multi-objective")
    assert all({"objective/0", "objective/1"} <= set(run.data.metrics) for run in children)
    front = len(found["solutions"])  # the end's table shows the front, not the best by the first value alone
    assert f"{min(front, 5)} of the {front} on the Pareto front of 20 complete trials" in done.stdout


def test_a_pruner_on_a_multi_objective_sweep_is_said_to_be_unused(tmp_path: Path):
    args = ["--multirun", "hydra/sweeper/pruner=median", "hydra.sweeper.n_trials=3"]
    done = run_script(COMPAT / "multi-objective.py", args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        "hydra.sweeper.pruner (optuna.pruners.MedianPruner) is not used: Optuna prunes single-objective studies "
        "only, so each trial of this 2-objective sweep runs to its end"
    ) in done.stdout + done.stderr


def test_custom_search_space_example(tmp_path: Path):
    done = run_script(COMPAT / "custom-search-space-objective.py", ["--multirun"], tmp_path)
    assert done.returncode == 0, done.stderr
    study = load_study(tmp_path, "custom-search-space")
    assert len(study.trials) == 20
    for trial in study.trials:
        assert abs(trial.params["z"] - trial.params["x"]) <= 0.5
        assert 0.0 <= trial.params["+w"] <= 1.0
        expected = trial.params["+w"] ** 2 + trial.params["x"] ** 2 + trial.params["y"] ** 2 + trial.params["z"] ** 2
        assert math.isclose(trial.value, expected)
    assert set(results(tmp_path)["best_params"]) == {"x", "y", "z", "+w"}
