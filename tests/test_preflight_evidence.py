"""The preflight's checks read the evidence they share instead of training again, without losing power: the
seed check reads the budget run's first steps, and the zeroed-input run is skipped only when no such run could
change the verdict, which holds because a model answers all-zero inputs with one prediction (one class; one
value, whose R^2 is at most 0)."""

import pytest
from helpers import compose_config

from sweepwise.recipe.budget_checks import budget_runs
from sweepwise.recipe.input_dependence import ZeroedBound
from sweepwise.recipe.pipeline import Pipeline, ZeroedInputs
from sweepwise.recipe.report import FAIL, PASS
from sweepwise.recipe.training_checks import SEED_STEPS, seed_reproducibility

pytestmark = pytest.mark.slow  # each test trains for seconds
STEPS = 60  # enough for the default data's models to halve their loss


def pipeline(*overrides: str) -> Pipeline:
    return Pipeline.build(compose_config(["output_dir=unused", *overrides]))


@pytest.fixture(scope="module")
def mlp() -> Pipeline:
    return pipeline("model=mlp")


def test_the_budget_runs_first_steps_are_a_fresh_runs_and_the_seed_check_reads_them(mlp: Pipeline):
    runs = budget_runs(mlp, 0, STEPS)
    fresh = mlp.step_losses(SEED_STEPS, 0)
    assert runs.losses[:SEED_STEPS] == fresh and runs.start_loss == fresh[0]
    assert seed_reproducibility(mlp, 0, runs.losses).status == PASS
    shifted = [loss + 1e-6 for loss in runs.losses]
    failed = seed_reproducibility(mlp, 0, shifted)  # a first run the same seed does not repeat
    assert failed.status == FAIL and failed.value == pytest.approx(1e-6)


@pytest.mark.parametrize(
    ("overrides", "score"),
    [
        (["model=convnet"], "val/acc"),
        (["model=mlp"], "val/acc"),
        (["model=linear"], "val/acc"),
        (["task=regression", "data=synthetic_regression", "model=mlp"], "val/r2"),
        (["task=regression", "data=synthetic_regression", "data.function=nonlinear", "model=mlp"], "val/r2"),
    ],
)
def test_a_learning_pipeline_skips_the_zeroed_run_whose_score_its_bound_holds(overrides: list[str], score: str):
    checked = pipeline(*overrides, "optimizer.lr=0.003")
    runs = budget_runs(checked, 0, STEPS)
    assert isinstance(runs.zeroed, ZeroedBound) and runs.score == score
    zeroed = checked.train(STEPS, 0, ZeroedInputs(checked.data)).history[-1]
    assert zeroed[score] <= runs.zeroed.score + 1e-9


def test_a_model_that_ignores_its_inputs_gets_its_zeroed_run():
    runs = budget_runs(pipeline("model._target_=planted_bugs.InputIgnoringModel"), 0, STEPS)
    assert isinstance(runs.zeroed, dict) and "val/acc" in runs.zeroed
