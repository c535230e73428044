"""What a training run shows of its predictions: prediction dynamics, the confusion matrix and the top losses."""

from pathlib import Path

import numpy as np
import pytest
from helpers import TINY, compose_config, mlflow_client, write_csv

from sweepwise.app import train

pytestmark = pytest.mark.slow  # each run trains for seconds


def trained_run(overrides: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    cfg = compose_config([*TINY, "trainer.epochs=6", f"output_dir={tmp_path / 'run'}", *overrides])
    train(cfg)
    client = mlflow_client(tmp_path)
    (run,) = client.search_runs([client.get_experiment_by_name("sweepwise").experiment_id])
    artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id, "predictions")}
    return run, artifacts, tmp_path / "run"


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory):
    """One run of the default data, read by every test of what it shows."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return trained_run([], tmp_path_factory.mktemp("default"), monkeypatch)


def test_prediction_dynamics_show_the_true_class_being_learnt(default_run):
    _, artifacts, output = default_run
    assert {"predictions/prediction_dynamics.png", "predictions/confusion_matrix.png"} <= artifacts
    # the numbers behind the pictures, as the README says
    assert {"predictions/prediction_dynamics.npz", "predictions/confusion_matrix.csv"} <= artifacts
    assert "predictions/top_losses.png" in artifacts
    recorded = np.load(output / "prediction_dynamics.npz")
    p_true, steps = recorded["p_true"], recorded["steps"]
    assert p_true.shape[0] == 40 and p_true.shape[1] == len(steps) >= 50  # 4 examples per class, ~100 recordings
    assert np.all(np.diff(steps) > 0) and np.all((p_true >= 0) & (p_true <= 1))
    assert p_true[:, -1].mean() > p_true[:, 0].mean() + 0.3  # the model learns the fixed examples


def test_confusion_matrix_counts_every_validation_sample(default_run):
    run, _, output = default_run
    confusion = np.loadtxt(output / "confusion_matrix.csv", delimiter=",", dtype=np.int64)
    client = mlflow_client(output.parent)
    history = client.get_metric_history(run.info.run_id, "val/acc")
    last_accuracy = max(history, key=lambda metric: metric.step).value
    assert confusion.shape == (10, 10) and confusion.sum() == 359  # digits' validation split
    assert np.trace(confusion) / confusion.sum() == pytest.approx(last_accuracy)


def test_tabular_data_gets_no_image_grid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    table = write_csv(tmp_path / "table.csv", rows=300)
    _, artifacts, _ = trained_run(
        ["data=csv", f"data.path={table}", "data.label_column=species"], tmp_path, monkeypatch
    )
    assert "predictions/confusion_matrix.png" in artifacts and "predictions/top_losses.png" not in artifacts
