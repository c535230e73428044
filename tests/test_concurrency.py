"""Concurrent writers: 8 trials at once, each logging every optimiser step to one MLflow store and reporting every
epoch to one Optuna storage; afterwards every step and every report is there, once."""

from pathlib import Path

import optuna
import pytest
from helpers import run_train
from mlflow import MlflowClient
from mlflow_server import MlflowServer
from postgres_server import Databases
from reliability import record
from sweep_helpers import most_at_once

from sweepwise.databases import with_driver
from sweepwise.study.storage import open_storage

pytestmark = [pytest.mark.slow, pytest.mark.reliability]
TRIALS, EPOCHS = 8, 3
TRAIN_SAMPLES = 1600  # of the synthetic data; an epoch is its full batches (the sweep picks the batch size)
EPOCH_METRICS = ("train/loss", "train/lr", "val/loss", "val/acc")
# a small real training, every step logged; no pruning and no preflight, so every trial runs all its epochs
LOGGING_SWEEP = [
    "-m",
    "sweeps=random_lr_wd",
    "data=synthetic",
    "model=linear",
    f"trainer.epochs={EPOCHS}",
    "trainer.progress=plain",
    "tracking.log_every_n_steps=1",
    "recipe.preflight=off",
    "hydra/sweeper/pruner=none",
    f"hydra.sweeper.n_trials={TRIALS}",
    f"hydra.sweeper.n_jobs={TRIALS}",
]


def missing_and_duplicates(client: MlflowClient, run_id: str, key: str, expected: list[int]) -> tuple[int, int]:
    steps = [metric.step for metric in client.get_metric_history(run_id, key)]
    return len(set(expected) - set(steps)), len(steps) - len(set(steps))


ON_SLURM = [  # one SLURM job per trial, on CPUs, so that all 8 fit the test cluster at once
    "hydra/launcher=slurm",
    "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.poll_interval_s=2",
]


@pytest.fixture(
    params=[
        "HTTP server, journal file",
        pytest.param("SLURM jobs, HTTP server, journal file", marks=pytest.mark.xdist_group("slurm")),
        "sqlite store, sqlite storage",
        pytest.param("PostgreSQL store, PostgreSQL storage", marks=pytest.mark.xdist_group("postgres")),
    ]
)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, list[str], str, str]:
    """(the case, the overrides that pick the stores and launcher, the MLflow tracking URI, the study storage)"""
    journal = str(tmp_path / "studies/random_lr_wd.journal")
    if "HTTP" in request.param:
        launcher = ON_SLURM if request.param.startswith("SLURM") else []
        if launcher:
            request.getfixturevalue("slurm")
        server = request.getfixturevalue("mlflow_server")
        assert isinstance(server, MlflowServer)
        return request.param, [f"tracking.uri={server.url}", *launcher], server.url, journal
    if "PostgreSQL" in request.param:
        databases = request.getfixturevalue("postgres")
        assert isinstance(databases, Databases)
        overrides = [f"hydra.sweeper.storage={databases.studies}", f"tracking.uri={databases.mlflow}"]
        return request.param, overrides, with_driver(databases.mlflow), databases.studies
    sqlite = f"sqlite:///{tmp_path / 'optuna.db'}"
    return request.param, [f"hydra.sweeper.storage={sqlite}"], f"sqlite:///{tmp_path}/mlflow.db", sqlite


def test_eight_trials_at_once_lose_no_metric_step_and_no_report(stores, tmp_path: Path):
    case, overrides, tracking_uri, storage = stores
    done = run_train([*LOGGING_SWEEP, *overrides], tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    study = optuna.load_study(study_name="random_lr_wd", storage=open_storage(storage))
    assert [trial.state.name for trial in study.trials] == ["COMPLETE"] * TRIALS
    at_once = most_at_once(study)
    assert at_once == TRIALS
    epochs = list(range(1, EPOCHS + 1))
    assert all(sorted(trial.intermediate_values) == epochs for trial in study.trials)

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("sweepwise").experiment_id
    children = [run for run in client.search_runs([experiment]) if "mlflow.parentRunId" in run.data.tags]
    assert len(children) == TRIALS
    counted = 0
    for run in children:
        trial = study.trials[int(run.data.tags["sweepwise.trial_number"])]
        steps = list(range(1, EPOCHS * (TRAIN_SAMPLES // trial.params["trainer.batch_size"]) + 1))
        for key, expected in [("step/train_loss", steps), ("step/lr", steps)] + [(k, epochs) for k in EPOCH_METRICS]:
            assert missing_and_duplicates(client, run.info.run_id, key, expected) == (0, 0), (run.info.run_name, key)
            counted += len(expected)
    reports = sum(len(trial.intermediate_values) for trial in study.trials)
    record(
        "load",
        f"{TRIALS} trials at once, every step logged ({case})",
        f"{TRIALS} of {TRIALS} COMPLETE, up to {at_once} running at once; {counted} metric values counted in "
        f"MLflow (every step's loss and learning rate, {len(EPOCH_METRICS)} metrics of each of {EPOCHS} epochs), "
        f"{reports} epoch reports in Optuna",
        "nothing: no missing and no duplicated step",
    )
