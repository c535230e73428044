"""Trials on several processes (`trainer.devices: N`, gloo on the CPU): the same steps as one process at the same
global batch, one MLflow run and one Optuna trial per trial, and a rank that dies failing its trial cleanly."""

import os
from pathlib import Path

import pytest
import torch
from helpers import compose_config, run_train
from sweep_helpers import load_study, states, sweep_runs

from sweepwise.app import train
from sweepwise.errors import ConfigError
from sweepwise.trial_api import Trial
from sweepwise.trial_facts import TrialFacts

# each test starts gloo process groups of real training processes: seconds apiece
pytestmark = pytest.mark.slow
SMALL = ["data=synthetic", "model=mlp", "trainer.batch_size=32", "trainer.progress=off", "recipe.preflight=off"]


def history(folder: Path) -> list[dict[str, float]]:
    return torch.load(folder / "checkpoints" / "last.pt", weights_only=False)["train_state"]["history"]


def test_two_processes_take_the_steps_one_process_takes_at_the_same_global_batch(tmp_path: Path):
    histories = {}
    for devices in (1, 2):
        folder = tmp_path / f"devices{devices}"
        overrides = [*SMALL, "trainer.epochs=3", f"trainer.devices={devices}", f"output_dir={folder}"]
        train(compose_config([*overrides, f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"]))
        histories[devices] = history(folder)
    for one, two in zip(histories[1], histories[2], strict=True):
        for key in ("train/loss", "val/loss", "val/acc", "train/grad_norm"):
            assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-6), (key, one, two)
    assert histories[1][-1]["train/loss"] < histories[1][0]["train/loss"]  # it trained: the match means something


def stop_at_step_two(facts: dict) -> object:
    """A study link whose pruner stops its trial at step 2."""
    return lambda step, value, last=False, objective="": "pruned" if step == 2 else None


def test_two_processes_stop_together_and_resume_as_if_never_stopped(tmp_path: Path):
    store = f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"
    two = [*SMALL, "trainer.devices=2", "trainer.epochs=4", "model.dropout=0.2", store]  # dropout draws randomness
    train(compose_config([*two, f"output_dir={tmp_path / 'straight'}"]))
    train(
        compose_config([*two, f"output_dir={tmp_path / 'first'}"]),
        trial=Trial(TrialFacts(link=f"{__name__}:stop_at_step_two")),
    )
    stopped = tmp_path / "first" / "checkpoints" / "last.pt"
    assert len(history(tmp_path / "first")) == 2  # rank 0's word stopped both ranks: no hang, no third epoch
    train(compose_config([*two, f"trainer.resume_from={stopped}", f"output_dir={tmp_path / 'resumed'}"]))
    straight, resumed = history(tmp_path / "straight"), history(tmp_path / "resumed")
    for key in ("train/loss", "val/loss"):
        assert [epoch[key] for epoch in resumed] == pytest.approx([epoch[key] for epoch in straight], rel=1e-6)


@pytest.mark.parametrize(("devices", "batch"), [(0, 32), (3, 32)])
def test_a_process_count_that_cannot_split_the_batch_is_refused(devices: int, batch: int, tmp_path: Path):
    store = f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(ConfigError, match="^trainer.devices="):
        train(compose_config([*SMALL, f"trainer.devices={devices}", f"trainer.batch_size={batch}", store]))
    assert not (tmp_path / "mlflow.db").exists()  # refused before any run was created


def test_a_sweep_of_two_process_trials_has_one_run_and_one_trial_per_trial(tmp_path: Path):
    """On (fake) GPUs, each trial gets a GPU per process, and 4 GPUs hold 2 such trials at once."""
    sweep = ["-m", "sweeps=random_lr_wd", "hydra.sweeper.n_trials=3", "hydra.launcher.gpus=[0,1,2,3]"]
    result = run_train([*sweep, *SMALL, "trainer.epochs=2", "trainer.devices=2"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "placement: 2 trials at a time on GPUs 0,1,2,3 (2 GPU(s) per trial" in result.stdout
    assert states(load_study(tmp_path, "random_lr_wd")) == {"COMPLETE": 3}
    _, children = sweep_runs(tmp_path, "sweepwise")
    assert len(children) == 3
    assert {run.data.tags["sweepwise.processes"] for run in children} == {"2"}
    assert {run.data.tags["sweepwise.gpus"] for run in children} == {"0,1", "2,3"}
    assert all(run.info.status == "FINISHED" for run in children)


def test_a_killed_rank_fails_the_run_in_one_line_and_leaves_no_process(tmp_path: Path):
    pids = tmp_path / "pids"
    model = [
        "model._target_=faulty_parts.RankKilledModel",
        "+model.rank=1",
        "+model.kill_at=20",
        f"+model.pid_dir={pids}",
    ]
    overrides = [*SMALL, "model=linear", "trainer.epochs=3", "trainer.devices=2", *model]
    result = run_train(overrides, tmp_path, timeout=240)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: rank 1 of 2 killed by SIGKILL"], result.stderr[-3000:]
    assert sorted(path.name for path in pids.iterdir()) == ["0.pid", "1.pid"]
    for path in pids.iterdir():
        with pytest.raises(ProcessLookupError):
            os.kill(int(path.read_text()), 0)


def test_a_pruning_decision_stops_every_process_of_the_trial_at_the_same_epoch(tmp_path: Path):
    always = [
        "hydra/sweeper/pruner=none",
        "hydra.sweeper.pruner._target_=optuna.pruners.ThresholdPruner",
        "+hydra.sweeper.pruner.lower=2.0",  # val/acc is below 2 at every epoch: pruned at the first
    ]
    args = ["-m", "sweeps=random_lr_wd", "hydra.sweeper.n_trials=2", *always, *SMALL, "trainer.epochs=4"]
    result = run_train([*args, "trainer.devices=2"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    study = load_study(tmp_path, "random_lr_wd")
    assert states(study) == {"PRUNED": 2}
    assert all(list(trial.intermediate_values) == [1] for trial in study.trials)  # val/acc < 2: pruned at once
    for trial in study.trials:
        log = (tmp_path / "multirun" / "random_lr_wd" / str(trial.number) / "trial.log").read_text()
        assert "Traceback" not in log and "Error" not in log, log[-2000:]  # rank 1 stopped with rank 0
