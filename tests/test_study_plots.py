"""The study's plots a sweep logs on its parent run: which are drawn for which study."""

from pathlib import Path

import optuna
import pytest

from sweepwise.sweep.driver.study_plots import MIN_TRIALS_FOR_IMPORTANCE, save_study_plots


def study_of(trials: int, directions: tuple[str, ...] = ("minimize",), report: bool = True) -> optuna.Study:
    study = optuna.create_study(directions=list(directions), sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float | tuple[float, ...]:
        x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
        if report and len(directions) == 1:
            trial.report(x + y, step=1)
        return (x + 10 * y,) * len(directions) if len(directions) > 1 else x + 10 * y

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=trials)
    return study


def names(paths: list[Path]) -> set[str]:
    return {path.name for path in paths}


@pytest.mark.parametrize("trials", [MIN_TRIALS_FOR_IMPORTANCE - 1, MIN_TRIALS_FOR_IMPORTANCE])
def test_parameter_importances_are_drawn_from_enough_trials_to_mean_something(tmp_path: Path, trials: int):
    saved = save_study_plots(study_of(trials), tmp_path)
    assert all(path.is_file() and path.stat().st_size for path in saved)
    expected = {"optimization_history.png", "parallel_coordinate.png", "intermediate_values.png"}
    if trials >= MIN_TRIALS_FOR_IMPORTANCE:
        expected.add("param_importances.png")
    assert names(saved) == expected


def test_several_objectives_get_their_pareto_front_and_no_study_without_a_finished_trial_gets_a_plot(tmp_path: Path):
    assert "pareto_front.png" in names(save_study_plots(study_of(3, ("minimize", "maximize")), tmp_path / "two"))
    assert save_study_plots(optuna.create_study(), tmp_path / "none") == []
