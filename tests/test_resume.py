"""A run stopped and resumed from its checkpoint equals an uninterrupted run, exactly, on the CPU."""

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import default_spec, trainer_settings

from sweepwise.console import SilentProgress
from sweepwise.data.synthetic import make_synthetic
from sweepwise.models import ConvNet
from sweepwise.schedules import Cosine
from sweepwise.tasks import Classification
from sweepwise.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from sweepwise.training.loop import BEST_CHECKPOINT, LAST_CHECKPOINT, Trainer
from sweepwise.training.runtime import autocast_for, seed_everything

TIMING = "train/samples_per_sec"


def make_trainer(
    checkpoint_dir: Path,
    callbacks=(),
    progress: SilentProgress | None = None,
    lr: float = 3e-3,
    weight_decay: float = 0,
    probed: bool = False,
) -> Trainer:
    """Dropout, batch norm and on-device augmentation all draw random numbers: the hard case for resuming.
    `probed`: with the task's probe of prediction dynamics, as `train.py` trains."""
    seed_everything(0, deterministic=True)
    data = make_synthetic(num_samples=320, num_classes=3, shape=[1, 8, 8], augment={"max_shift": 0.2, "noise_std": 0.1})
    model = ConvNet(data.input_shape, data.num_classes, width=4, depth=2, dropout=0.3)
    probe = Classification().probe(data, 4 * data.steps_per_epoch(32), 32) if probed else None
    return Trainer(
        model,
        torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay),
        Cosine(warmup_fraction=0.1),
        data,
        Classification(),
        trainer_settings(epochs=4, batch_size=32, checkpoint_dir=checkpoint_dir),
        default_spec().objective,
        autocast_for(torch.device("cpu"), "fp32"),
        progress or SilentProgress(),
        callbacks,
        probe=probe,
    )


def without_timing(history):
    return [{k: v for k, v in row.items() if k != TIMING} for row in history]


def test_stopped_and_resumed_run_equals_uninterrupted_run(tmp_path: Path):
    full = make_trainer(tmp_path / "full")
    full_state = full.fit()

    stop_after_two = make_trainer(tmp_path / "part", [lambda epoch, metrics, last: "stop" if epoch == 2 else None])
    assert stop_after_two.fit().epoch == 2

    resumed = make_trainer(tmp_path / "resumed")
    torch.manual_seed(12345)  # the checkpoint, not this process's seed, must decide what comes next
    resumed.resume(load_checkpoint(tmp_path / "part" / LAST_CHECKPOINT))
    resumed_state = resumed.fit()

    assert resumed_state.epoch == 4 and resumed_state.step == full_state.step
    assert without_timing(resumed_state.history) == without_timing(full_state.history)
    for name, tensor in full.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    assert resumed.optimizer.param_groups[0]["lr"] == full.optimizer.param_groups[0]["lr"]


def test_a_resumed_runs_probe_holds_the_whole_runs_record(tmp_path: Path):
    """What the probe recorded before the interruption is in the checkpoint (readable with weights_only), so the
    resumed run's record, and the picture and numbers saved from it, are the uninterrupted run's."""
    full = make_trainer(tmp_path / "full", probed=True)
    full.fit()
    part = make_trainer(tmp_path / "part", [lambda epoch, metrics, last: "stop" if epoch == 2 else None], probed=True)
    part.fit()
    resumed = make_trainer(tmp_path / "resumed", probed=True)
    resumed.resume(torch.load(tmp_path / "part" / LAST_CHECKPOINT, weights_only=True))
    resumed.fit()

    assert full.probe is not None and resumed.probe is not None and part.probe is not None
    assert 0 < len(part.probe.steps) < len(full.probe.steps) == len(resumed.probe.steps)
    assert resumed.probe.steps == full.probe.steps
    whole, after = (
        np.load(full.probe.save(tmp_path / "full.png")[1]),
        np.load(resumed.probe.save(tmp_path / "r.png")[1]),
    )
    assert np.array_equal(whole["steps"], after["steps"]) and np.allclose(whole["p_true"], after["p_true"])


class LearningRates(SilentProgress):
    def __init__(self) -> None:
        self.rates: list[float] = []

    def advance(self, step, loss, lr) -> None:
        self.rates.append(lr)


def test_a_run_resumed_with_other_optimiser_settings_trains_with_them_from_the_checkpoints_state(tmp_path: Path):
    """What population-based training needs: a member goes on from another's checkpoint with its own (perturbed)
    learning rate and weight decay, applied to the loaded optimiser, its moments and schedule position kept."""
    make_trainer(tmp_path / "part", [lambda epoch, metrics, last: "stop" if epoch == 2 else None]).fit()
    checkpoint = load_checkpoint(tmp_path / "part" / LAST_CHECKPOINT)
    rates = LearningRates()
    resumed = make_trainer(tmp_path / "resumed", progress=rates, lr=1e-2, weight_decay=0.1)
    resumed.resume(checkpoint)
    (group,) = resumed.optimizer.param_groups
    assert group["initial_lr"] == 1e-2 and group["weight_decay"] == 0.1
    saved = checkpoint["optimizer"]["state"]
    for index, state in resumed.optimizer.state_dict()["state"].items():
        assert torch.equal(state["exp_avg"], saved[index]["exp_avg"]), index
    assert saved[0]["step"] > 0  # the moments of two epochs of training, not a fresh optimiser's
    resumed.fit()
    total = resumed.total_steps
    expected = [1e-2 * Cosine(warmup_fraction=0.1)((step + 0.5) / total) for step in range(total // 2, total)]
    assert rates.rates == pytest.approx(expected, rel=1e-12)


def test_a_run_resumed_without_restoring_rng_differs(tmp_path: Path):
    """Guards the test above: without the saved RNG state the continuation is not identical."""
    full = make_trainer(tmp_path / "full")
    full.fit()
    make_trainer(tmp_path / "part", [lambda epoch, metrics, last: "stop" if epoch == 2 else None]).fit()
    checkpoint = load_checkpoint(tmp_path / "part" / LAST_CHECKPOINT)
    resumed = make_trainer(tmp_path / "resumed")
    torch.manual_seed(12345)
    checkpoint["rng"]["torch"] = torch.get_rng_state()
    resumed.resume(checkpoint)
    resumed.fit()
    assert not torch.equal(full.model.head[-1].weight, resumed.model.head[-1].weight)


def test_best_checkpoint_holds_the_best_epoch(tmp_path: Path):
    trainer = make_trainer(tmp_path)
    state = trainer.fit()
    best = load_checkpoint(tmp_path / BEST_CHECKPOINT)
    assert best["train_state"]["best_epoch"] == state.best_epoch
    assert best["train_state"]["best_value"] == max(row["val/acc"] for row in state.history)


def test_checkpoint_writes_are_atomic_and_bad_files_give_clear_errors(tmp_path: Path):
    path = tmp_path / "last.pt"
    save_checkpoint({"value": 1}, path)
    assert load_checkpoint(path)["value"] == 1
    assert not list(tmp_path.glob(".*.tmp"))
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(CheckpointError, match="unreadable checkpoint"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


class StepsKept:
    """A step recorder that writes nothing: what a run whose process stopped before its epoch's callbacks left."""

    every = 1

    def __init__(self) -> None:
        self.steps: list[tuple[int, float, float]] = []

    def record_step(self, step: int, loss: torch.Tensor, lr: float) -> None:
        self.steps.append((step, float(loss), lr))

    def pending(self) -> list[tuple[int, float, float]]:
        return list(self.steps)

    def restore(self, pending: list[tuple[int, float, float]]) -> None:
        self.steps = list(pending)


def test_a_checkpoint_keeps_its_epochs_recorded_steps_for_the_replay(tmp_path: Path):
    trainer = make_trainer(tmp_path, [lambda epoch, metrics, last: "stop" if epoch == 1 else None])
    trainer.recorder = StepsKept()
    trainer.fit()
    recorded = trainer.recorder.pending()
    assert len(recorded) == trainer.state.step  # every step of the one epoch
    resumed = make_trainer(tmp_path / "again")
    resumed.recorder = StepsKept()
    resumed.resume(load_checkpoint(tmp_path / LAST_CHECKPOINT))
    # what the stopped process had not written comes back, to be written by the replay of its epoch
    assert resumed.recorder.pending() == recorded


class CheckpointedEpochs(SilentProgress):
    """Notes, as each epoch's line is shown, the epoch its `last.pt` on disk holds."""

    def __init__(self, checkpoint: Path) -> None:
        self.checkpoint, self.seen = checkpoint, []

    def end_epoch(self, metrics) -> None:
        self.seen.append(load_checkpoint(self.checkpoint)["train_state"]["epoch"] if self.checkpoint.exists() else 0)


def test_an_epochs_line_shows_only_once_its_checkpoint_is_on_disk(tmp_path: Path):
    """A process stopped between the two replays the epoch: a line shown before the checkpoint would show twice."""
    progress = CheckpointedEpochs(tmp_path / LAST_CHECKPOINT)
    make_trainer(tmp_path, progress=progress).fit()
    assert progress.seen == [1, 2, 3, 4]
