"""The end-of-sweep report ends the parent run however it ends itself: cut short by Ctrl-C (KILLED) or by a
failure (FAILED), the run is not left RUNNING."""

from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
from mlflow import MlflowClient

from sweepwise.sweep.driver import study_plots
from sweepwise.sweep.driver.sweep_report import SweepReport
from sweepwise.sweep.driver.tracker import SweepTracker


@pytest.mark.parametrize(("cut", "status"), [(KeyboardInterrupt, "KILLED"), (RuntimeError, "FAILED")])
def test_a_report_cut_short_still_ends_its_parent_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut: type[BaseException], status: str
):
    study = optuna.create_study(study_name="cut")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = SweepTracker(store, "cut")
    parent = tracker.start_parent(study, {}, {})
    plan = SimpleNamespace(
        sweep_dir=tmp_path, storage="memory", directions=("minimize",), tracking_uri=store, experiment="cut"
    )

    def plots_cut_short(*args: object) -> list[Path]:
        raise cut

    monkeypatch.setattr(study_plots, "save_study_plots", plots_cut_short)  # imported by the report as it ends
    with pytest.raises(cut):
        SweepReport(0, False, {}).write(study, plan, tracker, {"COMPLETE": 2}, "FINISHED")  # type: ignore[arg-type]
    assert MlflowClient(store).get_run(parent).info.status == status
