"""The preflight: a correct pipeline passes every check; a pipeline with one planted bug fails the check meant to
catch it, in real (short) training; a sweep whose base config fails launches no trial."""

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from helpers import compose_config, mlflow_client, run_train, write_csv
from sweep_helpers import load_study

from sweepwise import configure
from sweepwise.recipe.preflight import run_preflight
from sweepwise.recipe.report import FAIL, NOT_APPLICABLE, PASS, WARN
from sweepwise.recipe.trial_models import trial_config, trial_model
from sweepwise.tasks.served import raw_inputs
from sweepwise.tracking.mlflow_run import mlflow_store

# every test runs the preflight's checks, each of which trains: seconds to a minute apiece
pytestmark = pytest.mark.slow
SMALL = ["model=mlp", "model.width=64", "trainer.epochs=5"]
REGRESSION = ["task=regression", "trainer.batch_size=32"]


def build_data(cfg):
    return configure.build(cfg.data, "data")


def statuses(overrides: list[str], folder: Path) -> dict[str, str]:
    report = run_preflight(compose_config([*SMALL, *overrides]), folder)
    results, files = report.results, report.files
    assert {path.name for path in files} >= {"preflight.json", "preflight.md", "learning_rate_schedule.png"}
    return {result.name: result.status for result in results}


@pytest.fixture(scope="module")
def planted_preflight(tmp_path_factory: pytest.TempPathFactory) -> Callable[[list[str]], tuple[dict[str, str], str]]:
    """The preflight's statuses and its preflight.md for a planted bug, run once for all the checks meant to catch
    that bug (a bug caught by two checks is one pipeline, checked once)."""
    reports: dict[tuple[str, ...], tuple[dict[str, str], str]] = {}

    def report(planted: list[str]) -> tuple[dict[str, str], str]:
        if tuple(planted) not in reports:
            folder = tmp_path_factory.mktemp("planted")
            reports[tuple(planted)] = statuses(planted, folder), (folder / "preflight.md").read_text()
        return reports[tuple(planted)]

    return report


def test_a_correct_pipeline_passes_every_check(tmp_path: Path):
    found = statuses(["trainer.epochs=10"], tmp_path)  # long enough to learn what the checks learned
    assert len(found) == 25
    not_applicable = {"final-layer bias from priors", "targets standardised", "output range covers the targets"}
    not_applicable |= {"causal mask (no future tokens)", "targets are the next tokens"}
    assert {name for name, status in found.items() if status != PASS} == not_applicable
    assert found["final-layer bias from priors"] == NOT_APPLICABLE
    report = json.loads((tmp_path / "preflight.json").read_text())
    assert all(entry["measured"] and entry["criterion"] for entry in report)
    assert (tmp_path / "batch_entering_model.png").exists()


def test_the_default_convnet_passes_with_the_output_bias_from_the_priors(tmp_path: Path):
    results = run_preflight(compose_config(["recipe.init_bias=true"]), tmp_path).results
    other_tasks = ("targets standardised", "output range covers the targets", "causal mask (no future tokens)",
                   "targets are the next tokens")  # fmt: skip
    assert {result.name: result.status for result in results if result.status != PASS} == dict.fromkeys(
        other_tasks, NOT_APPLICABLE
    )


@pytest.mark.parametrize(
    ("planted", "caught_by"),
    [
        (["model._target_=planted_bugs.BatchMixingModel"], {"batch independence (backprop)"}),
        (["model._target_=planted_bugs.BatchMixingModel"], {"per-sample loop = batched forward"}),
        (["model._target_=planted_bugs.InputIgnoringModel"], {"input-independent baseline", "dumb baselines"}),
        (["model._target_=planted_bugs.DoubleSoftmaxModel"], {"overfit one batch"}),
        (["model._target_=planted_bugs.OverconfidentInitModel"], {"loss at init"}),
        (["data._target_=planted_bugs.shuffled_label_digits"], {"input-independent baseline", "dumb baselines"}),
        (["data._target_=planted_bugs.shuffled_label_digits"], {"training loss decreases"}),
        (["data._target_=planted_bugs.unnormalised_digits"], {"batch entering the model"}),
        (["data._target_=planted_bugs.unseeded_order_digits"], {"seed reproducibility"}),
        (["data._target_=planted_bugs.drop_last_val_digits"], {"whole-set evaluation"}),
        (["schedule=step", "schedule.milestones=[0.01]", "schedule.gamma=0.001"], {"learning-rate schedule"}),
        (
            ["model._target_=planted_bugs.OverconfidentInitModel", "recipe.init_bias=true"],
            {"final-layer bias from priors"},
        ),
        (["data._target_=planted_bugs.shifted_val_label_digits"], {"train and validation agree"}),
        (["data._target_=planted_bugs.augmented_val_digits"], {"evaluation is deterministic"}),
        (["model._target_=planted_bugs.DropoutAlwaysOnModel"], {"evaluation is deterministic"}),
        (["model._target_=planted_bugs.BatchNormStuckInTrainingModel"], {"per-sample loop = batched forward"}),
        (["model._target_=planted_bugs.HiddenLayerModel"], {"gradient flow"}),
        (["model._target_=planted_bugs.DetachedBranchModel"], {"gradient flow"}),
        (
            ["model._target_=planted_bugs.SummedLossScaleModel", "optimizer=sgd", "optimizer.lr=0.1"],
            {"training loss decreases"},
        ),
        (["model._target_=planted_bugs.NanAfterStepsModel"], {"loss stays finite"}),
        (["data._target_=planted_bugs.sorted_digits"], {"batches mix classes"}),
        (["data._target_=planted_bugs.leaky_split_digits"], {"train/validation overlap"}),
        ([*REGRESSION, "data._target_=planted_bugs.unstandardised_diabetes"], {"targets standardised"}),
        (
            [*REGRESSION, "data=diabetes", "model._target_=planted_bugs.ReluHeadModel"],
            {"output range covers the targets"},
        ),
    ],
    ids=[
        "reshape-mixes-batch",
        "reshape-mixes-batch-forward",
        "model-ignores-input",
        "softmax-twice",
        "overconfident-init",
        "labels-shuffled",
        "labels-shuffled-loss",
        "unnormalised-0-255",
        "unseeded-data-order",
        "val-drops-last-batch",
        "lr-zero-in-first-epoch",
        "bias-from-priors-drowned-by-weights",
        "val-labels-shifted-by-one",
        "augmentation-on-validation",
        "dropout-on-at-evaluation",
        "batch-norm-training-at-evaluation",
        "layer-missing-from-optimiser",
        "detach-cuts-the-network",
        "sum-reduction-with-mean-lr",
        "nan-after-some-steps",
        "data-never-shuffled",
        "duplicates-across-split",
        "regression-target-in-raw-units",
        "relu-on-a-regression-head",
    ],
)
def test_a_planted_bug_fails_its_check(planted_preflight, planted: list[str], caught_by: set[str]):
    found, meaning = planted_preflight(planted)
    assert {found[name] for name in caught_by} == {FAIL}, found
    assert all(f"**{name}** (FAIL)" in meaning for name in caught_by)


@pytest.mark.parametrize(
    "slow",
    [["optimizer.lr=3e-5"], ["model=convnet", "model.width=8", "optimizer.lr=1e-4"]],
    ids=["mlp-at-a-tenth-of-its-rate", "narrow-convnet-at-a-low-rate"],
)
def test_a_correct_but_slow_pipeline_is_warned_not_failed(slow: list[str], tmp_path: Path):
    found = statuses([*slow, "trainer.epochs=10"], tmp_path)
    assert FAIL not in found.values(), found
    assert found["overfit one batch"] == WARN and found["training loss decreases"] == WARN
    assert found["learning-rate range test"] == WARN  # far below where the loss falls fastest
    measured = {entry["name"]: entry["measured"] for entry in json.loads((tmp_path / "preflight.json").read_text())}
    assert "suggested: optimizer.lr=tag(log, interval(" in measured["learning-rate range test"]
    assert (tmp_path / "lr_range_test.png").is_file()


def test_a_rate_far_below_where_the_range_test_learns_is_slow_not_broken(tmp_path: Path):
    """A linear model at Adam 3e-4 learns next to nothing in the checks' budgets on a small table; the range test
    shows it learning at higher rates, so the learning checks WARN and overfitting tries the range test's rate."""
    table = write_csv(tmp_path / "table.csv", rows=150)
    data = ["data=csv", f"data.path={table}", "data.label_column=species", "trainer.eval_batch_size=64"]
    linear = ["model=linear", "optimizer.lr=3e-4", "trainer.batch_size=16", "trainer.epochs=5"]
    results = run_preflight(compose_config([*data, *linear]), tmp_path).results
    found = {result.name: result.status for result in results}
    assert FAIL not in found.values(), found
    measured = {result.name: result.measured for result in results}
    slowed = [name for name, text in measured.items() if "below the range test's interval" in text]
    assert "training loss decreases" in slowed, measured
    assert {found[name] for name in slowed} == {WARN}
    assert found["overfit one batch"] == WARN and "memorised at lr" in measured["overfit one batch"]


def test_a_layer_whose_output_is_unused_is_warned_not_failed(tmp_path: Path):
    found = statuses(["model._target_=planted_bugs.UnusedBranchModel", "trainer.epochs=10"], tmp_path)
    assert found["gradient flow"] == WARN and FAIL not in found.values(), found


def test_a_table_smaller_than_the_evaluation_batch_is_checked(tmp_path: Path):
    table = write_csv(tmp_path / "table.csv", rows=150)  # fewer rows than trainer.eval_batch_size (1024)
    found = statuses(["data=csv", f"data.path={table}", "data.label_column=species", "trainer.batch_size=16"], tmp_path)
    assert found["train/validation overlap"] == PASS and found["train and validation agree"] == PASS


@pytest.mark.parametrize("width", [16, 256])
def test_a_small_noisy_table_gets_no_fail_from_checks_that_lack_the_evidence(tmp_path: Path, width: int):
    """Diabetes' target binned into 5 equal classes: valid data whose best accuracy is ~0.4, on 88 validation rows.
    The checks that cannot tell learning from chance on so few rows say so (WARN), and none contradicts another."""
    from sklearn.datasets import load_diabetes

    diabetes = load_diabetes(scaled=False)
    bands = np.digitize(diabetes.target, np.quantile(diabetes.target, [0.2, 0.4, 0.6, 0.8]))
    table = tmp_path / "bands.csv"
    rows = [
        ",".join([*(f"{value:g}" for value in row), str(band)]) for row, band in zip(diabetes.data, bands, strict=True)
    ]
    table.write_text("\n".join([",".join([*(f"x{i}" for i in range(10)), "band"]), *rows]) + "\n")
    found = statuses(["data=csv", f"data.path={table}", "data.label_column=band", f"model.width={width}"], tmp_path)
    assert FAIL not in found.values(), found


def test_a_planned_run_shorter_than_the_checks_needed_is_warned(tmp_path: Path):
    found = statuses(["trainer.epochs=1"], tmp_path)
    assert found["planned run long enough"] == WARN
    assert FAIL not in found.values(), found


def test_a_sweep_whose_base_config_fails_the_preflight_runs_no_trial(tmp_path: Path):
    args = ["-m", "sweeps=random_lr_wd", *SMALL, "trainer.progress=plain", "hydra.sweeper.n_trials=2"]
    planted = "model._target_=planted_bugs.BatchMixingModel"
    done = run_train([*args, planted], tmp_path, timeout=600)
    assert done.returncode != 0
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error: preflight failed")]
    assert "batch independence (backprop)" in line and "mixes the batch dimension" in line
    assert "recipe.preflight=warn" in line
    assert load_study(tmp_path, "random_lr_wd").trials == []
    client = mlflow_client(tmp_path)
    (parent,) = client.search_runs([client.get_experiment_by_name("sweepwise").experiment_id])
    assert parent.info.status == "FAILED" and parent.data.tags["preflight.status"] == FAIL
    assert parent.data.tags["preflight.batch_independence_backprop"] == FAIL
    assert "preflight/preflight.md" in {a.path for a in client.list_artifacts(parent.info.run_id, "preflight")}

    warned = run_train([*args, planted, "recipe.preflight=warn", "hydra.sweeper.study_name=warned"], tmp_path, 600)
    assert warned.returncode == 0, warned.stderr[-2000:]
    assert len(load_study(tmp_path, "warned").trials) == 2


def test_preflight_alone_exits_non_zero_on_a_fail_and_logs_a_run(tmp_path: Path):
    failed = run_train(["mode=preflight", *SMALL, "data._target_=planted_bugs.unnormalised_digits"], tmp_path)
    (line,) = [line for line in failed.stdout.splitlines() if line.startswith("preflight failed")]
    assert failed.returncode == 1 and "batch entering the model (" in line and "0-255" in line
    passed = run_train(["mode=preflight", *SMALL, "trainer.epochs=10"], tmp_path)  # long enough: no WARN
    assert passed.returncode == 0, passed.stderr[-2000:]
    (reports,) = [line for line in passed.stdout.splitlines() if line.startswith("reports: ")]
    folder = Path(reports.removeprefix("reports: ").split(" (")[0])
    markdown = (folder / "preflight.md").read_text()
    # every check is one row of four cells, whatever its text holds (`|mean|`, `|gradient|`)
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 25 and all(line.replace("\\|", "").count("|") == 5 for line in rows)
    client = mlflow_client(tmp_path)
    runs = client.search_runs([client.get_experiment_by_name("sweepwise").experiment_id])
    assert sorted(run.data.tags["preflight.status"] for run in runs) == [FAIL, PASS]
    assert all(run.data.tags["sweepwise.role"] == "preflight" for run in runs)
    # the runs span the checks they report (created afterwards, dated from the checks' start)
    assert all(run.info.end_time - run.info.start_time > 1000 for run in runs)


def test_a_sweep_ends_with_an_ensemble_of_its_best_trials(tmp_path: Path):
    args = ["-m", "sweeps=random_lr_wd", *SMALL, "trainer.progress=plain", "hydra.sweeper.n_trials=4"]
    done = run_train([*args, "recipe.ensemble_top_k=3", "hydra/sweeper/pruner=none"], tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    study = load_study(tmp_path, "random_lr_wd")
    best_three = sorted(study.trials, key=lambda trial: trial.value, reverse=True)[:3]
    table = json.loads((tmp_path / "multirun" / "random_lr_wd" / "ensemble" / "ensemble.json").read_text())
    members, ensemble = table["rows"][:3], table["rows"][3]
    # each member, re-evaluated from its best checkpoint, scores what the trial reported
    assert [row["name"] for row in members] == [f"trial {trial.number}" for trial in best_three]
    assert [row["accuracy"] for row in members] == pytest.approx([trial.value for trial in best_three])
    assert table["gain"] == pytest.approx(ensemble["accuracy"] - max(row["accuracy"] for row in members))
    assert table["gain_se"] >= 0 and "gain over the best single model" in done.stdout
    client = mlflow_client(tmp_path)
    parent = client.get_run(study.user_attrs["mlflow_parent_run_id"])
    assert parent.data.metrics["ensemble/val_acc"] == pytest.approx(ensemble["accuracy"])

    again = subprocess.run(
        [sys.executable, "-m", "sweepwise.recipe.ensemble", "--study", "random_lr_wd", "--k", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert "ensemble of 2" in again.stdout


def test_each_model_family_is_checked_once_a_rerun_keeps_its_preflight_and_the_best_model_is_logged(tmp_path: Path):
    args = ["-m", "sweeps=random_lr_wd", "model=choice(mlp, linear)", "trainer.epochs=1", "trainer.progress=plain"]
    first = run_train([*args, "hydra.sweeper.n_trials=2"], tmp_path, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    # the base config takes the first family (mlp); the other is checked on its own, once
    assert first.stdout.count("regularisation off)") == 2
    assert "preflight of the model family model=linear:" in first.stdout
    assert "not run again" not in first.stdout and "estimated sweep cost: 2 trials x " in first.stdout
    study = load_study(tmp_path, "random_lr_wd")
    assert study.user_attrs["preflight"]["status"] in (PASS, WARN)
    parent = mlflow_client(tmp_path).get_run(study.user_attrs["mlflow_parent_run_id"])
    assert parent.data.tags["preflight.model_linear.status"] in (PASS, WARN)
    assert "preflight/model_linear/training_loss_decreases" in parent.data.metrics
    base_config = (tmp_path / "multirun" / "random_lr_wd" / "preflight" / "preflight_config.yaml").read_text()
    assert "sweepwise.models.MLP" in base_config

    # the best trial's model, on the parent run, predicts what the trial's best checkpoint predicts
    uri = logged_uri(first)
    client = mlflow_client(tmp_path)
    logged = client.get_logged_model(uri.removeprefix("models:/"))
    assert logged.source_run_id == study.user_attrs["mlflow_parent_run_id"]
    folder = tmp_path / "multirun" / "random_lr_wd" / str(study.best_trial.number)
    data = build_data(trial_config(folder))
    inputs = next(iter(data.val_batches(7)))[0]  # another batch size than the example's: the batch stays free
    with mlflow_store(f"sqlite:///{tmp_path / 'mlflow.db'}"):  # put back after, for the runs started next
        info = mlflow.models.get_model_info(uri)
        exported = mlflow.pytorch.load_model(uri)
    assert info.signature is not None and info.saved_input_example_info is not None
    assert info.metadata == {"output_names": [str(digit) for digit in range(10)]}
    with torch.no_grad():  # it takes the images' own pixel values (0-16) and normalises them itself
        assert torch.allclose(exported(raw_inputs(data, inputs)), trial_model(folder, data)(inputs), atol=1e-4)

    again = run_train([*args, "hydra.sweeper.n_trials=3"], tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "not run again" in again.stdout and "regularisation off)" not in again.stdout
    assert "estimated sweep cost" not in again.stdout
    assert len(load_study(tmp_path, "random_lr_wd").trials) == 3
    models = client.search_logged_models(experiment_ids=[logged.experiment_id])
    assert len(models) == 2 - ("as before" in model_line(again))  # a new best trial logs its model, once

    # a setting the checks depend on (outside the study's definition) makes them run again
    changed = run_train([*args, "hydra.sweeper.n_trials=3", "recipe.budget_steps=120"], tmp_path, timeout=600)
    assert changed.returncode == 0, changed.stderr[-2000:]
    assert "regularisation off)" in changed.stdout and "not run again" not in changed.stdout
    # a re-run of the finished study points at the best model already on the parent run instead of logging another
    assert model_line(changed).endswith("on the parent run, as before")
    assert logged_uri(changed) == logged_uri(again)
    assert len(client.search_logged_models(experiment_ids=[logged.experiment_id])) == len(models)


def model_line(done: subprocess.CompletedProcess) -> str:
    """The sweep's `best model (trial N): URI on the parent run...` line."""
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("best model (trial ")]
    return line


def logged_uri(done: subprocess.CompletedProcess) -> str:
    return model_line(done).split(": ", 1)[1].split(" ", 1)[0]
