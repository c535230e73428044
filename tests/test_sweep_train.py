"""Sweeps of the real training: `python train.py sweeps=NAME`, pruning, MLflow parent and children, bad input."""

from pathlib import Path

import pytest
from helpers import mlflow_client, run_train
from sweep_helpers import load_study, sweep_runs

from sweepwise.sweep.driver.sweep_report import ui_hint

pytestmark = pytest.mark.slow
# the sweeps of these tests are about searching and pruning: the preflight has tests of its own
SMALL = ["trainer.progress=plain", "hydra.sweeper.n_jobs=2", "recipe.preflight=off"]


def test_random_search_with_median_pruning_stops_bad_trials_early(tmp_path: Path):
    done = run_train(
        [
            "-m",
            "sweeps=random_lr_wd",
            *SMALL,
            "hydra.sweeper.n_trials=10",
            "trainer.epochs=6",
            "model=mlp",
            "model.width=64",
            "hydra.sweeper.pruner.n_startup_trials=3",
            "hydra.sweeper.pruner.n_warmup_steps=1",
            "optimizer.lr=tag(log, interval(1e-5, 3e-2))",  # a command-line sweep replaces the sweep file's
        ],
        tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    study = load_study(tmp_path, "random_lr_wd")
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(pruned) + len(complete) == 10 and pruned and complete
    assert all(max(t.intermediate_values) < 6 for t in pruned)  # stopped before the last epoch
    assert all(sorted(t.intermediate_values) == list(range(1, 7)) for t in complete)
    best_complete = max(t.value for t in complete)
    assert all(max(t.intermediate_values.values()) < best_complete for t in pruned)

    parents, children = sweep_runs(tmp_path, "sweepwise")
    (parent,) = parents
    assert parent.info.status == "FINISHED" and parent.data.metrics["trials/pruned"] == len(pruned)
    assert parent.data.metrics["best_value"] == parent.data.metrics["objective"] == study.best_value
    # the trials' experiment opens on its runs in MLflow 3's UI
    experiment = mlflow_client(tmp_path).get_experiment_by_name("sweepwise")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert parent.data.tags["best.trial"] == str(study.best_trial.number)
    client = mlflow_client(tmp_path)
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert {
        "plots/optimization_history.png",
        "plots/parallel_coordinate.png",
        "plots/intermediate_values.png",
    } <= plots
    by_number = {int(run.data.tags["sweepwise.trial_number"]): run for run in children}
    assert len(by_number) == 10 and all(run.data.tags["mlflow.parentRunId"] == parent.info.run_id for run in children)
    for trial in pruned:
        run = by_number[trial.number]
        # stopped early: MLflow's KILLED, not the green check of a trial that trained to its end
        assert run.data.tags["sweepwise.trial_state"] == "PRUNED" and run.info.status == "KILLED"
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val/acc")]
        assert steps == sorted(trial.intermediate_values)  # metrics up to the pruning epoch
    for trial in complete:
        run = by_number[trial.number]
        assert run.data.metrics["objective"] == trial.value == run.data.metrics["best/val/acc"]
        assert run.info.status == "FINISHED"
        assert run.data.params["optimizer.lr"] == str(trial.params["optimizer.lr"])
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"config.yaml", "curves.png", "trial.log"}
    assert "best trial" in done.stdout
    assert f"compare the trials: mlflow ui --backend-store-uri sqlite:///{tmp_path / 'mlflow.db'}  (" in done.stdout


def test_architecture_sweep_varies_the_model_and_its_conditional_sizes(tmp_path: Path):
    done = run_train(
        [
            "sweeps=architecture",
            *SMALL,
            "hydra.sweeper.n_trials=4",
            "trainer.epochs=1",
            "hydra/sweeper/pruner=none",
            # a few 8x8 images: a ResNet-18 of width 64 takes seconds per step of 64 of them on a CPU
            "data=synthetic",
            "data.num_samples=80",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    trials = load_study(tmp_path, "architecture").trials
    assert {trial.params["model"] for trial in trials} == {"mlp", "convnet", "resnet"}  # the sweep file's seed
    for trial in trials:
        assert trial.state.name == "COMPLETE"
        if trial.params["model"] == "resnet":
            assert trial.params["model.depth"] in (10, 18)
        else:
            assert 1 <= trial.params["model.depth"] <= 4


@pytest.mark.parametrize(
    ("uri", "in_repo", "hint"),
    [
        ("sqlite:///{here}/mlflow.db", True, "make ui  (experiment e)"),
        ("sqlite:///{here}/mlflow.db", False, "mlflow ui --backend-store-uri sqlite:///{here}/mlflow.db  (experi"),
        ("postgresql+psycopg://me:pw@db/runs", True, "make ui DB=postgresql+psycopg://me:[redacted]@db/runs  (exp"),
        ("postgresql+psycopg://me:pw@db/runs", False, "mlflow ui --backend-store-uri postgresql+psycopg://me:[re"),
        ("http://tracker:5000/", True, "open http://tracker:5000/#/experiments/1/runs?viewStateShareKey=k  (exper"),
    ],
)
def test_the_ui_hint_names_the_store_the_sweep_logged_to(tmp_path: Path, monkeypatch, uri, in_repo, hint):
    monkeypatch.chdir(tmp_path)
    if in_repo:  # sweepwise's own checkout
        (tmp_path / "Makefile").write_text("ui:\n")
        (tmp_path / "src" / "sweepwise").mkdir(parents=True)
    line = ui_hint(uri.format(here=tmp_path), "e", "#/experiments/1/runs?viewStateShareKey=k")
    assert line.startswith(f"compare the trials: {hint.format(here=tmp_path)}")
    if not uri.startswith("http"):  # the UI `make ui` and `mlflow ui` serve, at the trials' view
        assert line.endswith("(experiment e), then open http://127.0.0.1:5000/#/experiments/1/runs?viewStateShareKey=k")
