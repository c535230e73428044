"""Regression from the command line, as a user runs it under `python -W error`: a numeric target trains as a
regression with its metrics in the target's units, its preflight passes, its sweep minimises val/rmse with the
study's intermediate values the run's val/rmse, and its best model reloads from MLflow to answer in the target's
units. A numeric target under classification, a metric of the other task and a key no part reads each stop in
one line before any run is made."""

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pytest
import torch
from helpers import REPO, TRAIN_PY, all_runs, mlflow_client, run_script
from sweep_helpers import load_study, sweep_runs

from sweepwise import configure
from sweepwise.internals import sklearn_internals
from sweepwise.recipe.trial_models import trial_config, trial_model
from sweepwise.study.records import MODEL_URI_TAG
from sweepwise.study.trials import trial_folder
from sweepwise.tracking.mlflow_run import mlflow_store

pytestmark = pytest.mark.slow
STRICT = ("-W", "error")
SMALL = ["task=regression", "model=mlp", "model.width=32", "trainer.progress=plain", "trainer.batch_size=32"]
REGRESSION_METRICS = {"val/rmse", "val/rmse_se", "val/mae", "val/mae_se", "val/r2", "val/r2_se", "val/loss"}


def train(args: list[str], cwd: Path, timeout: float = 600):
    return run_script(TRAIN_PY, args, cwd, timeout=timeout, python_flags=STRICT)


def write_numeric_csv(path: Path, rows: int = 300, targets: int = 1) -> Path:
    """Three features; targets linear in them, in units of hundreds (prices, say)."""
    rng = np.random.default_rng(0)
    features = rng.standard_normal((rows, 3))
    values = 250.0 + 80.0 * features @ rng.standard_normal((3, targets)) + 10.0 * rng.standard_normal((rows, targets))
    names = ["price", "rent"][:targets]
    lines = [",".join(["f1", "f2", "f3", *names])]
    lines += [
        ",".join(f"{value:.3f}" for value in (*row, *target)) for row, target in zip(features, values, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_numeric_csv_target_trains_as_a_regression_in_its_own_units(tmp_path: Path):
    table = write_numeric_csv(tmp_path / "houses.csv", targets=2)
    done = train(
        [
            *SMALL,
            "data=csv",
            f"data.path={table}",
            "data.label_column=[price,rent]",
            "trainer.epochs=15",
            "optimizer.lr=0.01",
            "objective.metric=val/rmse/rent",  # one target's own error, in its own units
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = all_runs(tmp_path)
    metrics = run.data.metrics
    assert set(metrics) >= REGRESSION_METRICS and "val/acc" not in metrics
    assert {"val/rmse/price", "val/rmse/rent", "val/r2/price", "val/r2/rent"} <= set(metrics)
    # errors in the targets' units (their noise has SD 10 on values of SD ~140): far below the SD, above zero
    assert 5.0 < metrics["val/rmse"] < 40.0 and metrics["val/r2"] > 0.9
    assert metrics["best/val/rmse/rent"] <= metrics["val/rmse/rent"] and "best/val/rmse" not in metrics
    artifacts = {item.path for item in mlflow_client(tmp_path).list_artifacts(run.info.run_id, "predictions")}
    assert {"predictions/predicted_vs_true.png", "predictions/residuals.png", "predictions/val_predictions.csv"} <= (
        artifacts
    )


def test_a_numeric_label_under_classification_stops_in_one_line_naming_the_regression_task(tmp_path: Path):
    table = write_numeric_csv(tmp_path / "houses.csv")
    done = train(["data=csv", f"data.path={table}", "data.label_column=price", "model=mlp"], tmp_path)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line == (
        "error: data.label_column='price': holds 300 distinct numbers in 300 rows, a numeric target: train it with "
        "task=regression (as classes it would be a 300-class classifier)"
    )
    assert all_runs(tmp_path) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["objective.metric=val/rmse"],
            "error: objective.metric='val/rmse': task=classification reports val/acc, "
            "val/loss, train/loss (val/rmse is a metric of task=regression)",
        ),
        (
            ["task=regression", "+loss=l1"],
            "error: loss='l1': sweepwise's training reads no such key, so it would do "
            "nothing (did you mean task.loss?)",
        ),
        (
            ["task=regression", "data=diabetes", "task.loss=mae"],
            "error: task.loss='mae': must be one of mse, l1, huber",
        ),
        (
            ["task=regression"],
            "error: task='regression': data._target_=sweepwise.data.digits.load_digits gives class labels (10 "
            "classes), not numeric targets: train them with task=classification, or for regression use data=csv "
            "with a numeric data.label_column, data=diabetes or data=synthetic_regression",
        ),
        (
            ["task=regression", "data=diabetes", "recipe.ensemble_top_k=3"],
            "error: recipe.ensemble_top_k=3: ensembles average class probabilities: "
            "task._target_=sweepwise.tasks.Regression has none",
        ),
        (
            ["task=regression", "data=diabetes", "mode=inspect"],
            "error: mode='inspect': the data report counts classes: task=regression has none",
        ),
        (
            ["task=regression", "data=diabetes", "objective.metric=val/r2", "objective.direction=minimize"],
            "error: objective.direction='minimize': val/r2 is better higher: maximize it, or leave the direction out "
            "to follow the metric",
        ),
    ],
)
def test_task_mistakes_stop_in_one_line_before_any_run(tmp_path: Path, args: list[str], expected: str):
    done = train([*args, "model=mlp", "trainer.epochs=1"], tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [expected]
    assert all_runs(tmp_path) == []


def test_the_regression_preflight_passes_on_diabetes(tmp_path: Path):
    done = train(["mode=preflight", "task=regression", "data=diabetes", "model=mlp", "trainer.epochs=30"], tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = next(tmp_path.glob("outputs/*/*/preflight/preflight.md")).read_text()
    assert "| FAIL |" not in report and "| WARN |" not in report
    assert "val/r2: model " in report and "; mean " in report and "; linear " in report  # the task's baselines


def test_a_regression_sweep_minimises_rmse_and_its_best_model_reloads_in_the_targets_units(tmp_path: Path):
    done = train(["sweeps=regression", "hydra.sweeper.n_trials=4", "trainer.epochs=4"], tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "regression")
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    complete = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]
    assert study.best_trial.value == min(trial.value for trial in complete)
    (parent,), children = sweep_runs(tmp_path, "sweepwise")
    client = mlflow_client(tmp_path)
    for child in children:  # the pruner saw each epoch's val/rmse, as the run logged it
        number = int(child.data.tags["sweepwise.trial_number"])
        reported = study.trials[number].intermediate_values
        logged = {m.step: m.value for m in client.get_metric_history(child.info.run_id, "val/rmse")}
        assert reported == pytest.approx(logged)
    folder = trial_folder(study, study.best_trial, tmp_path / "multirun" / "regression")
    config = trial_config(folder)
    task = configure.build_task(config)
    data = configure.build_data(config.data, task)
    trained = trial_model(folder, data)
    with mlflow_store(f"sqlite:///{tmp_path / 'mlflow.db'}"):  # put back after, for the runs started next
        info = mlflow.models.get_model_info(parent.data.tags[MODEL_URI_TAG])
        served = mlflow.pytorch.load_model(parent.data.tags[MODEL_URI_TAG])
    assert info.signature is not None and info.signature.outputs.inputs[0].shape == (-1, 1)
    assert info.metadata == {"output_names": ["progression"]}
    features, _ = sklearn_internals.load_diabetes()  # the patients' raw rows: age in years, bmi, blood pressure, ...
    rows = torch.as_tensor(features[: len(features) // 2], dtype=torch.float32)
    scale = data.target_scale
    with torch.no_grad():  # the served model normalises the rows itself and answers in the score's own units
        answer = served(rows)
        truth = trained((rows - torch.as_tensor(data.mean)) / torch.as_tensor(data.std)) * float(scale.std[0])
    assert torch.allclose(answer, truth + float(scale.mean[0]), atol=1e-3)
    assert 25.0 < float(answer.mean()) < 346.0  # the disease-progression score's own range, not standard units


def test_a_task_of_ones_own_is_chosen_with_target_and_trains_as_it_says(tmp_path: Path):
    """`examples/own_task/quantile.py`: the 0.1 and the 0.9 quantiles of diabetes' target (a loss of its own, a
    regression's metrics and figures). About one in ten validation targets lie below the first prediction, nine in
    ten below the second (88 rows: 0.1 +- 0.03)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "examples" / "own_task"), "PYTHONUNBUFFERED": "1"}
    args = ["task=regression", "data=diabetes", "model=linear", "task._target_=quantile.Quantile", "trainer.epochs=60",
            "optimizer.lr=0.03", "trainer.batch_size=32", "trainer.progress=off"]  # fmt: skip
    command = [sys.executable, *STRICT, str(TRAIN_PY), *args]
    covered = {}
    for quantile in (0.1, 0.9):
        folder = tmp_path / str(quantile)
        folder.mkdir()
        done = subprocess.run([*command, f"+task.quantile={quantile}"], cwd=folder, env=env, capture_output=True,
                              text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        (table,) = folder.glob("outputs/*/*/val_predictions.csv")
        truth, predicted = np.loadtxt(table, delimiter=",", skiprows=1, unpack=True)
        covered[quantile] = float(np.mean(truth <= predicted))
    assert covered[0.1] <= 0.25 and covered[0.9] >= 0.75, covered
    refused = subprocess.run([*command, "+task.quantile=1.5"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode == 1
    assert refused.stderr.strip() == "error: task.quantile=1.5: must be in the open interval (0, 1)"


def test_a_csv_sweeps_best_model_answers_raw_rows_of_the_file_in_the_targets_units(tmp_path: Path):
    """The sweep reads its CSV through `${hydra:runtime.cwd}` (in its preflight too); the model it logs takes rows
    of the file as they are and answers prices, its error near the one the trial reported (not the network's
    standardised inputs and outputs)."""
    table = write_numeric_csv(tmp_path / "houses.csv", rows=400)
    args = ["sweeps=regression", "data=csv", "data.path=${hydra:runtime.cwd}/houses.csv", "data.label_column=price",
            "hydra.sweeper.n_trials=2", "trainer.epochs=20", "optimizer.lr=0.01", "recipe.preflight=warn",
            "recipe.budget_steps=30", "recipe.lr_range_steps=30", "recipe.overfit_steps=30"]  # fmt: skip
    done = train(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "preflight (" in done.stdout and "error" not in done.stderr  # the checks ran, reading the file
    study = load_study(tmp_path, "regression")
    (parent,), _ = sweep_runs(tmp_path, "sweepwise")
    with mlflow_store(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        served = mlflow.pyfunc.load_model(parent.data.tags[MODEL_URI_TAG])
    rows = np.loadtxt(table, delimiter=",", skiprows=1, dtype=np.float32)
    predicted = served.predict(rows[:, :3])[:, 0]
    rmse = float(np.sqrt(np.mean((predicted - rows[:, 3]) ** 2)))
    assert rmse < 2.0 * study.best_value and rmse < 0.3 * float(rows[:, 3].std()), (rmse, study.best_value)
    # a mistake in the same command names itself, not a changed definition of the study
    mistaken = train([*args, "data.label_column=nope"], tmp_path)
    assert mistaken.returncode == 1
    assert mistaken.stderr.strip().startswith("error: data.label_column='nope': not a column of"), mistaken.stderr
