"""The training loop's knobs: seeding, max_steps, early stopping, gradient clipping, divergence, progress output."""

import io
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from helpers import default_spec, trainer_settings
from rich.console import Console

from sweepwise.console import BarProgress, PlainProgress, SilentProgress
from sweepwise.data.synthetic import make_synthetic
from sweepwise.errors import ConfigError, TrainingDiverged
from sweepwise.models import MLP, Linear
from sweepwise.schedules import Constant, Cosine
from sweepwise.tasks import Classification
from sweepwise.training import runtime
from sweepwise.training.loop import Trainer

CPU = torch.device("cpu")


def fit(seed: int = 0, lr: float = 1e-2, progress=None, model=None, **settings) -> Trainer:
    runtime.seed_everything(seed, deterministic=True)
    data = make_synthetic(num_samples=400, num_classes=3, shape=[6], noise=2.0)
    model = model or MLP(data.input_shape, 3, width=16, dropout=0.2)
    trainer = Trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=lr),
        Constant() if "schedule" not in settings else settings.pop("schedule"),
        data,
        Classification(),
        trainer_settings(**{"epochs": 3, "batch_size": 32, "seed": seed, **settings}),
        default_spec().objective,
        runtime.autocast_for(CPU, "fp32"),
        progress or SilentProgress(),
    )
    trainer.fit()
    return trainer


def losses(trainer: Trainer) -> list[float]:
    return [row["train/loss"] for row in trainer.state.history]


def test_one_seed_reproduces_exactly_and_another_seed_differs():
    assert losses(fit(seed=0)) == losses(fit(seed=0))
    assert losses(fit(seed=0)) != losses(fit(seed=1))


def test_max_steps_overrides_epochs():
    trainer = fit(epochs=50, max_steps=15)  # 10 steps per epoch
    assert trainer.state.step == 15 and trainer.state.epoch == 2


def test_early_stopping_after_patience_epochs_without_gain():
    stopping = replace(default_spec().trainer.early_stopping, patience=2, min_delta=10.0)
    trainer = fit(epochs=10, early_stopping=stopping)
    assert trainer.state.epoch == 3
    assert trainer.state.stop_reason == "early stopping: val/loss did not improve for 2 epochs"


def test_gradient_clipping_bounds_the_update():
    data = make_synthetic(num_samples=400, num_classes=3, shape=[6])
    model = Linear(data.input_shape, 3)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    trainer = fit(lr=1.0, model=model, max_steps=1, grad_clip=1e-3)
    after = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
    assert (after - before).norm().item() == pytest.approx(1e-3, rel=1e-3)
    assert trainer.state.history[0]["train/grad_norm"] > 1e-2  # the norm before clipping is what gets reported


def test_diverging_loss_raises():
    with pytest.raises(TrainingDiverged, match="train/loss became"):
        fit(lr=1e30, schedule=Cosine())


def test_plain_progress_prints_one_line_per_epoch(capsys):
    fit(progress=PlainProgress())
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all("train/loss" in line and "val/acc" in line for line in lines)


def test_progress_bar_shows_step_loss_lr_and_rate():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160)
    bar = BarProgress(batch_size=32, console=console)
    bar.last_refresh = float("-inf")
    fit(progress=bar, epochs=1)
    bar.close()
    text = buffer.getvalue()
    assert "epoch 1/1" in text and "loss" in text and "lr" in text and "/s" in text and "val/acc" in text


def test_auto_device_prefers_cuda_and_uses_bf16_autocast_there(monkeypatch: pytest.MonkeyPatch):
    assert runtime.resolve_device("auto") == CPU  # this machine has no GPU
    assert runtime.autocast_for(CPU, "auto")().__class__.__name__ == "nullcontext"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert runtime.resolve_device("auto") == torch.device("cuda")
    autocast = runtime.autocast_for(torch.device("cuda"), "auto")()
    assert isinstance(autocast, torch.autocast) and autocast.fast_dtype == torch.bfloat16
    assert runtime.autocast_for(torch.device("cuda"), "fp32")().__class__.__name__ == "nullcontext"


def test_a_bad_device_names_its_key():
    with pytest.raises(ConfigError, match="trainer.device='tpu'"):
        runtime.resolve_device("tpu")
    with pytest.raises(ConfigError, match="trainer.device='cuda'.*not available"):
        runtime.resolve_device("cuda")


def test_bf16_autocast_runs_on_the_cpu_when_asked():
    with runtime.autocast_for(CPU, "bf16")():
        out = torch.nn.Linear(4, 2)(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16


def test_checkpoints_land_in_the_configured_folder(tmp_path: Path):
    fit(checkpoint_dir=tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["best.pt", "last.pt"]


def test_budget_warnings_name_what_small_data_and_short_runs_lose():
    from sweepwise.training.budget import budget_warnings

    assert budget_warnings(num_train=1437, batch_size=64, steps=440) == []  # digits: 29 of 1437 skipped, 2%
    skipped, few = budget_warnings(num_train=96, batch_size=64, steps=20)
    assert skipped.startswith("trainer.batch_size=64: each epoch skips 32 of the 96 training samples (33%")
    assert few.startswith("the run plans only 20 optimiser steps in all")
    assert budget_warnings(num_train=96, batch_size=32, steps=300) == []  # 32 divides 96: nothing skipped
