"""The Lightning callback, end to end in examples/lightning: its sweep (lightning-hydra-template's hparams_search
config as the template writes it, hydra-optuna-sweeper's `_target_` included) prunes, a killed trial resumes from
its last checkpoint in its own run, and a 2-process (DDP, gloo) trial reports once per epoch."""

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import LIGHTNING_STRICT, REPO, run_script, service_missing
from mlflow import MlflowClient
from sweep_helpers import load_study, runs_so_far, states, sweep_runs

if importlib.util.find_spec("lightning") is None:  # CI installs it (the dev extra): there, a failure
    service_missing("the Lightning callback needs the lightning extra (pip install '.[lightning]')", whole_module=True)
import lightning.pytorch as lightning  # once it is known to be installed
import torch
from torch.utils.data import DataLoader, TensorDataset

from sweepwise.lightning import SweepwiseCallback
from sweepwise.trial_api import Trial, handing_over
from sweepwise.trial_facts import TrialFacts

pytestmark = pytest.mark.slow
EXAMPLE = REPO / "examples" / "lightning" / "train.py"
SWEEP = ["-m", "hparams_search=mnist_optuna", "hydra.sweep.dir=multirun/lightning"]


class Regression(lightning.LightningModule):
    """A one-weight model that logs its training loss each epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Linear(1, 1)

    def training_step(self, batch: list[torch.Tensor], index: int) -> torch.Tensor:
        inputs, targets = batch
        loss = torch.nn.functional.mse_loss(self.weight(inputs), targets)
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def always_prunes(facts: dict) -> object:
    """A study link whose pruner stops its trial at every step."""
    return lambda step, value, last=False, objective="": "pruned"


def epochs_logged(tmp_path: Path, run_id: str) -> list[int]:
    return epochs_logged_as(f"sqlite:///{tmp_path / 'mlflow.db'}", run_id, "val/acc")


def epochs_logged_as(store: str, run_id: str, key: str) -> list[int]:
    return [metric.step for metric in MlflowClient(store).get_metric_history(run_id, key)]


def quiet_trainer(max_epochs: int, monitor: str, **settings: object) -> lightning.Trainer:
    """A CPU trainer with the callback and nothing else of Lightning's own: no logger, checkpoints or bars."""
    return lightning.Trainer(
        max_epochs=max_epochs,
        callbacks=[SweepwiseCallback(monitor=monitor)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        **settings,
    )


@pytest.mark.parametrize(
    ("max_epochs", "max_steps", "epochs_trained", "pruned"),
    [(3, -1, 1, True), (1, -1, 1, False), (-1, 2, 1, False), (-1, 4, 1, True)],  # an epoch is 2 steps
)
def test_a_pruner_stops_a_training_before_its_last_epoch_but_not_at_it(
    tmp_path: Path, max_epochs: int, max_steps: int, epochs_trained: int, pruned: bool
):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    facts = TrialFacts(tracking_uri=store, folder=str(tmp_path), ends_run=False, link=f"{__name__}:always_prunes")
    trial = Trial(facts)
    data = DataLoader(TensorDataset(torch.ones(8, 1), torch.zeros(8, 1)), batch_size=4)
    trainer = quiet_trainer(max_epochs, "train/loss", max_steps=max_steps)
    with handing_over(trial):
        trainer.fit(Regression(), train_dataloaders=data)
    assert trainer.current_epoch == epochs_trained and (trial.pruned is not None) == pruned
    assert epochs_logged_as(store, trial.run_id, "train/loss") == list(range(1, epochs_trained + 1))


def test_outside_a_sweep_what_is_logged_after_fit_goes_to_the_fits_run(tmp_path: Path):
    """A test's metrics logged after `fit` belong with the training's: the run ends with the process (or the
    code's `with` block), not with `fit`."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    trial = Trial(TrialFacts(tracking_uri=store, folder=str(tmp_path)))
    data = DataLoader(TensorDataset(torch.ones(8, 1), torch.zeros(8, 1)), batch_size=4)
    with handing_over(trial):
        quiet_trainer(2, "train/loss").fit(Regression(), train_dataloaders=data)
        assert not trial.ended
        trial.report(3, {"test/loss": 0.1})
        trial.end()
    client = MlflowClient(tracking_uri=store)  # the experiment is named after a Hydra job an earlier test composed
    (run,) = client.search_runs([experiment.experiment_id for experiment in client.search_experiments()])
    assert {"train/loss", "test/loss"} <= set(run.data.metrics) and run.info.status == "FINISHED"


def test_the_templates_sweep_runs_and_pruned_trials_end_pruned(tmp_path: Path):
    pruner = [
        "hydra/sweeper/pruner=none",
        "hydra.sweeper.pruner._target_=optuna.pruners.ThresholdPruner",
        "+hydra.sweeper.pruner.lower=0.95",  # trials below 95% accuracy after an epoch stop there
    ]
    args = [*SWEEP, "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=2", "trainer.max_epochs=3", *pruner]
    done = run_script(EXAMPLE, args, tmp_path, timeout=600, python_flags=LIGHTNING_STRICT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "launcher basic (trials in worker processes here): study train" in done.stdout  # with its TPE fields
    study = load_study(tmp_path, "train")
    assert states(study).get("PRUNED", 0) >= 1 and sum(states(study).values()) == 3
    _, runs = sweep_runs(tmp_path, "train")
    by_number = {int(run.data.tags["sweepwise.trial_number"]): run for run in runs}
    for trial in study.trials:
        run = by_number[trial.number]
        assert run.data.tags["sweepwise.trial_state"] == trial.state.name
        logged = epochs_logged(tmp_path, run.info.run_id)
        assert logged == sorted(trial.intermediate_values) == list(range(1, len(logged) + 1))
        assert len(logged) == (3 if trial.state.name == "COMPLETE" else 1)


def test_a_killed_trial_resumes_from_its_last_checkpoint_in_its_run(tmp_path: Path):
    args = [*SWEEP, "hydra.sweeper.n_trials=1", "trainer.max_epochs=8", "data.samples=30000"]
    command = [sys.executable, *LIGHTNING_STRICT, str(EXAMPLE), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sweep = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.5)
        runs = runs_so_far(tmp_path, "train")
        if runs and len(epochs_logged(tmp_path, runs[0].info.run_id)) >= 2:
            break
    assert sweep.poll() is None, "the sweep ended before its trial had trained 2 epochs"
    os.killpg(sweep.pid, signal.SIGKILL)
    sweep.wait()

    again = run_script(EXAMPLE, args, tmp_path, timeout=600, python_flags=LIGHTNING_STRICT)
    assert again.returncode == 0, again.stderr[-3000:]
    study = load_study(tmp_path, "train")
    assert states(study) == {"COMPLETE": 1, "FAIL": 1} and study.trials[1].user_attrs["continues"] == 0
    _, (run,) = sweep_runs(tmp_path, "train")
    assert epochs_logged(tmp_path, run.info.run_id) == list(range(1, 9)) and run.info.status == "FINISHED"
    log = (tmp_path / "multirun" / "lightning" / "0" / "trial.log").read_text()
    assert "Restored all states from the checkpoint at" in log


def test_a_two_process_ddp_trial_reports_once_per_epoch(tmp_path: Path):
    args = [*SWEEP, "hydra.sweeper.n_trials=1", "trainer.max_epochs=3", "trainer.devices=2"]
    done = run_script(
        EXAMPLE, [*args, "trainer.strategy=ddp_spawn"], tmp_path, timeout=600, python_flags=LIGHTNING_STRICT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (trial,) = load_study(tmp_path, "train").trials
    assert trial.state.name == "COMPLETE" and list(trial.intermediate_values) == [1, 2, 3]
    _, (run,) = sweep_runs(tmp_path, "train")
    assert epochs_logged(tmp_path, run.info.run_id) == [1, 2, 3]  # rank 0 alone logged, each epoch once


class ValidatedRegression(Regression):
    """The one-weight model, with a validation loss."""

    def validation_step(self, batch: list[torch.Tensor], index: int) -> None:
        inputs, targets = batch
        self.log("val/loss", torch.nn.functional.mse_loss(self.weight(inputs), targets))


REPORTED: list[tuple[int, float]] = []


def recording(facts: dict) -> object:
    """A study link that keeps what it is told and never prunes."""
    return lambda step, value, last=False, objective="": REPORTED.append((step, value))


def test_epochs_without_validation_are_logged_and_not_reported(tmp_path: Path):
    """`check_val_every_n_epoch=2`: the objective, a validation metric, is reported after the epochs that ran
    validation; the others log their training metrics."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    facts = TrialFacts(tracking_uri=store, folder=str(tmp_path), ends_run=False, link=f"{__name__}:recording")
    trial = Trial(facts)
    data = DataLoader(TensorDataset(torch.ones(8, 1), torch.zeros(8, 1)), batch_size=4)
    trainer = quiet_trainer(5, "val/loss", check_val_every_n_epoch=2, num_sanity_val_steps=0)
    REPORTED.clear()
    with handing_over(trial):
        trainer.fit(ValidatedRegression(), train_dataloaders=data, val_dataloaders=data)
    trial.flush()
    assert [step for step, _ in REPORTED] == [2, 4]
    assert epochs_logged_as(store, trial.run_id, "val/loss") == [2, 4]
    assert epochs_logged_as(store, trial.run_id, "train/loss") == [1, 2, 3, 4, 5]


CHECKPOINTED_AT_REPORT: list[int | None] = []


def checkpoint_reader(facts: dict) -> object:
    """A study link that notes, as each epoch is reported, the epoch of the checkpoint then on disk."""
    path = Path(facts["folder"]) / "last.ckpt"

    def told(step: int, value: float, last: bool = False, objective: str = "") -> None:
        CHECKPOINTED_AT_REPORT.append(torch.load(path, weights_only=False)["epoch"] if path.is_file() else None)

    return told


def test_an_epoch_is_reported_before_its_checkpoint_is_saved(tmp_path: Path):
    """Saved first, an epoch whose trial stops before its report would be lost: the resumed attempt starts after
    it. Reported first, it is trained again."""
    facts = TrialFacts(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        folder=str(tmp_path),
        ends_run=False,
        link=f"{__name__}:checkpoint_reader",
        link_facts={"folder": str(tmp_path)},
    )
    trial = Trial(facts)
    data = DataLoader(TensorDataset(torch.ones(8, 1), torch.zeros(8, 1)), batch_size=4)
    trainer = quiet_trainer(3, "train/loss")
    CHECKPOINTED_AT_REPORT.clear()
    with handing_over(trial):
        trainer.fit(Regression(), train_dataloaders=data)
    assert CHECKPOINTED_AT_REPORT == [None, 0, 1]  # each report sees the epoch before its own
    assert torch.load(tmp_path / "last.ckpt", weights_only=False)["epoch"] == 2


class NoisyRegression(Regression):
    """Dropout and a shuffled loader: what a training draws from the random generators each epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1))


def fitted(folder: Path, max_epochs: int, resume: bool) -> torch.Tensor:
    """A seeded training of `max_epochs` in `folder` (resumed from its trial's checkpoint there): its weights."""
    trial = Trial(TrialFacts(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}", folder=str(folder), ends_run=False))
    lightning.seed_everything(0, verbose=False)  # as the code does each time it starts
    model = NoisyRegression()
    data = DataLoader(TensorDataset(torch.randn(32, 1), torch.randn(32, 1)), batch_size=4, shuffle=True)
    with handing_over(trial):
        quiet_trainer(max_epochs, "train/loss").fit(
            model, train_dataloaders=data, ckpt_path=str(folder / "last.ckpt") if resume else None
        )
    return torch.cat([parameter.detach().flatten() for parameter in model.parameters()])


def test_a_resumed_training_ends_where_the_uninterrupted_one_does(tmp_path: Path):
    """The code seeds its generators again when it starts; the trial's checkpoint holds their states, so the
    resumed epochs shuffle and drop out as the uninterrupted ones did."""
    (tmp_path / "whole").mkdir(), (tmp_path / "resumed").mkdir()
    uninterrupted = fitted(tmp_path / "whole", 4, resume=False)
    fitted(tmp_path / "resumed", 2, resume=False)
    assert torch.equal(fitted(tmp_path / "resumed", 4, resume=True), uninterrupted)


def test_a_monitor_the_module_does_not_log_is_named_as_the_callback_was_given_it(tmp_path: Path):
    trial = Trial(TrialFacts(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", folder=str(tmp_path), ends_run=False))
    data = DataLoader(TensorDataset(torch.ones(8, 1), torch.zeros(8, 1)), batch_size=4)
    named = r"^SweepwiseCallback\(monitor='val/loss'\) is not among the metrics \['train/loss'\]$"
    with handing_over(trial), pytest.raises(ValueError, match=named):
        quiet_trainer(1, "val/loss").fit(Regression(), train_dataloaders=data)
