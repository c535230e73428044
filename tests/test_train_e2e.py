"""End to end: `python train.py` in a subprocess, then the MLflow store read back and checked."""

import subprocess
from pathlib import Path

import pytest
from helpers import REPO, TINY, TRAIN_PY, all_runs, mlflow_client, run_train, write_csv, write_image_folder

pytestmark = pytest.mark.slow

METRICS = {"train/loss", "train/grad_norm", "train/lr", "train/samples_per_sec", "val/loss", "val/acc", "val/acc_se"}


def artifacts(client, run_id: str) -> set[str]:
    return {item.path for item in client.list_artifacts(run_id)}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """One run of the default pipeline (tiny), read by the tests of what a run logs: (its folder, its process)."""
    folder = tmp_path_factory.mktemp("default")
    return folder, run_train([*TINY, "trainer.epochs=3", "tracking.run_name=e2e"], folder)


def test_default_pipeline_trains_and_logs_one_complete_run(default_run: tuple[Path, subprocess.CompletedProcess]):
    tmp_path, done = default_run
    assert done.returncode == 0, done.stderr
    (run,) = all_runs(tmp_path)
    assert run.info.status == "FINISHED" and run.info.run_name == "e2e"
    params = run.data.params
    assert params["model.width"] == "32" and params["optimizer.lr"] == "0.01"
    assert params["trainer.batch_size"] == "64" and params["data.val_fraction"] == "0.2"
    assert params["data.augment.noise_std"] == "0.0" and params["objective.metric"] == "val/acc"
    assert set(run.data.metrics) >= METRICS
    client = mlflow_client(tmp_path)
    for key in METRICS:
        assert [m.step for m in client.get_metric_history(run.info.run_id, key)] == [1, 2, 3], key
    tags = run.data.tags
    assert tags["sweepwise.overrides"].startswith("model=mlp")
    assert tags["sweepwise.git_dirty"] in {"true", "false", "unknown"}
    assert tags["sweepwise.host"] and tags["sweepwise.version"] == "0.1.0"
    assert {"config.yaml", "curves.png"} <= artifacts(client, run.info.run_id)
    best = run.data.metrics["best/val/acc"]
    history = client.get_metric_history(run.info.run_id, "val/acc")
    assert best == max(m.value for m in history) and best > 0.5
    assert "epoch 3/3" in done.stdout and "best val/acc" in done.stdout


def test_runs_get_names_that_say_what_ran_and_differ(tmp_path: Path):
    for _ in range(2):  # the same seed and overrides twice: the names still differ
        assert run_train([*TINY, "trainer.epochs=1"], tmp_path).returncode == 0
    names = [run.info.run_name for run in all_runs(tmp_path)]
    assert len(set(names)) == 2, names
    assert all(name.startswith("mlp model=mlp model.width=32") for name in names), names


def test_git_commit_and_dirty_flag_come_from_the_working_directory(tmp_path: Path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "notes.txt").write_text("v1")
    subprocess.run(["git", "add", "notes.txt"], cwd=tmp_path, check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "v1"], cwd=tmp_path, check=True
    )
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    (tmp_path / "notes.txt").write_text("v2")
    assert run_train([*TINY, "trainer.epochs=1"], tmp_path).returncode == 0
    (run,) = all_runs(tmp_path)
    assert run.data.tags["sweepwise.git_commit"] == commit
    assert run.data.tags["sweepwise.git_dirty"] == "true"


def test_a_run_records_the_commit_of_the_scripts_repository_when_its_folder_has_none(tmp_path: Path):
    """sweepwise's train.py started from another folder records sweepwise's checkout; a script of a project that
    is in no repository records none, not the checkout of the sweepwise it imports."""
    from sweepwise.tracking.provenance import provenance_tags

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    assert head  # the tests run from a checkout
    assert provenance_tags((), cwd=tmp_path, script=TRAIN_PY)["sweepwise.git_commit"] == head
    own = tmp_path / "train.py"
    own.write_text("")
    assert provenance_tags((), cwd=tmp_path, script=own)["sweepwise.git_commit"] == "unknown"


def test_image_folder_and_csv_data_train_end_to_end(tmp_path: Path):
    images = write_image_folder(tmp_path / "images", ["left", "middle", "right"], per_class=20, size=12)
    done = run_train(
        [
            *TINY,
            "data=image_folder",
            f"data.root={images}",
            "data.image_size=8",
            "trainer.batch_size=8",
            "data.num_workers=1",
            "model=convnet",
            "model.width=4",
            "model.depth=2",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    table = write_csv(tmp_path / "table.csv", rows=300)
    done = run_train(
        [
            *TINY,
            "data=csv",
            f"data.path={table}",
            "data.label_column=species",
            "trainer.batch_size=32",
            "trainer.epochs=5",
            "optimizer.lr=0.01",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    image_run, csv_run = sorted(all_runs(tmp_path), key=lambda run: run.info.start_time)
    assert image_run.data.params["data.root"] == str(images) and image_run.info.status == "FINISHED"
    assert csv_run.data.params["data.label_column"] == "species"
    assert csv_run.data.metrics["best/val/acc"] > 0.8  # the largest-feature rule is linear


def test_resume_continues_the_same_mlflow_run_without_duplicate_steps(tmp_path: Path):
    first = run_train([*TINY, "hydra.run.dir=first"], tmp_path)
    assert first.returncode == 0, first.stderr
    checkpoint = tmp_path / "first" / "checkpoints" / "last.pt"
    more = run_train([*TINY, "trainer.epochs=4", f"trainer.resume_from={checkpoint}", "hydra.run.dir=more"], tmp_path)
    assert more.returncode == 0, more.stderr
    (run,) = all_runs(tmp_path)
    steps = [m.step for m in mlflow_client(tmp_path).get_metric_history(run.info.run_id, "val/loss")]
    assert steps == [1, 2, 3, 4] and run.info.status == "FINISHED"
    assert "epoch 3/4" in more.stdout and "epoch 1/4" not in more.stdout


def test_a_run_that_dies_in_training_is_failed_with_its_error(tmp_path: Path):
    done = run_train(
        [
            *TINY,
            "model._target_=faulty_parts.DivergingModel",
            "~model.width",
            "~model.depth",
            "~model.dropout",
        ],
        tmp_path,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("error: train/loss became nan in epoch")
    (run,) = all_runs(tmp_path)
    assert run.info.status == "FAILED"
    assert run.data.tags["sweepwise.error"].startswith("TrainingDiverged: train/loss became nan")
    assert "error.txt" in artifacts(mlflow_client(tmp_path), run.info.run_id)


def test_tracking_uri_and_experiment_come_from_config(tmp_path: Path):
    store = tmp_path / "elsewhere" / "store.db"
    store.parent.mkdir()
    done = run_train(
        [*TINY, "trainer.epochs=1", f"tracking.uri=sqlite:///{store}", "tracking.experiment=mine"], tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "mlflow.db").exists()
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("mine")
    assert experiment.artifact_location.startswith(str(store.parent))
    assert len(client.search_runs([experiment.experiment_id])) == 1


def test_a_run_logs_its_best_checkpoint_to_mlflow_unless_told_otherwise(
    default_run: tuple[Path, subprocess.CompletedProcess], tmp_path: Path
):
    best, done = default_run
    (tmp_path / "none").mkdir()
    assert done.returncode == 0, done.stderr
    assert run_train([*TINY, "trainer.epochs=2", "tracking.log_checkpoints=none"], tmp_path / "none").returncode == 0
    (kept,) = all_runs(best)
    client = mlflow_client(best)
    logged = client.download_artifacts(kept.info.run_id, "checkpoints/best.pt", str(tmp_path))
    (local,) = (best / "outputs").glob("*/*/checkpoints/best.pt")
    assert Path(logged).read_bytes() == local.read_bytes()  # the checkpoint itself, loadable by resume_from
    (plain,) = all_runs(tmp_path / "none")
    assert not mlflow_client(tmp_path / "none").list_artifacts(plain.info.run_id, "checkpoints")


def test_a_small_csv_run_says_what_its_epochs_skip_and_how_few_steps_it_plans(tmp_path: Path):
    table = write_csv(tmp_path / "small.csv", rows=120)  # 96 training rows after the validation split
    args = ["data=csv", f"data.path={table}", "data.label_column=species", "model=mlp", "trainer.batch_size=64"]
    done = run_train([*args, "trainer.epochs=20", "trainer.progress=plain"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    warnings = [line for line in done.stdout.splitlines() if line.startswith("warning: ")]
    assert any("each epoch skips 32 of the 96 training samples" in line for line in warnings), done.stdout
    assert any("plans only 20 optimiser steps" in line for line in warnings), done.stdout
