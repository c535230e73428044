"""Config composition: every group option composes and builds, overrides reach the parts, errors name keys."""

from pathlib import Path

import pytest
import torch
from helpers import CONF_DIR, compose_config

from sweepwise import configure
from sweepwise.cli import unknown_group_choice
from sweepwise.errors import ConfigError
from sweepwise.schedules import Schedule
from sweepwise.spec.run import run_spec


def test_default_config_is_digits_convnet_adam_cosine_maximising_val_acc():
    cfg = compose_config()
    assert cfg.data._target_.endswith("load_digits")
    assert cfg.model._target_.endswith("ConvNet")
    assert cfg.optimizer._target_ == "torch.optim.Adam" and cfg.optimizer.lr == pytest.approx(3e-4)
    assert cfg.schedule._target_.endswith("Cosine")
    assert (cfg.objective.metric, cfg.objective.direction) == ("val/acc", "maximize")
    assert cfg.tracking.uri is None and cfg.tracking.experiment == "sweepwise"


@pytest.mark.parametrize("model", sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml")))
@pytest.mark.parametrize("optimizer", sorted(p.stem for p in (CONF_DIR / "optimizer").glob("*.yaml")))
def test_every_model_and_optimizer_option_builds(model, optimizer):
    cfg = compose_config(
        [f"model={model}", f"optimizer={optimizer}", "model.width=4"]
        if model != "linear"
        else [f"model={model}", f"optimizer={optimizer}"]
    )
    sequences = model == "transformer"  # token ids in, a score per vocabulary entry at each position out
    net = configure.build(cfg.model, "model", input_shape=(8,) if sequences else (1, 8, 8), num_outputs=10)
    opt = configure.build(cfg.optimizer, "optimizer")(net.parameters())
    assert isinstance(opt, torch.optim.Optimizer)
    if sequences:
        assert net(torch.randint(0, 10, (2, 8))).shape == (2, 8, 10)
    else:
        assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("schedule", sorted(p.stem for p in (CONF_DIR / "schedule").glob("*.yaml")))
def test_every_schedule_option_builds(schedule):
    built = configure.build(compose_config([f"schedule={schedule}"]).schedule, "schedule")
    assert isinstance(built, Schedule) and 0.0 <= built(0.99) <= 1.0


def test_overrides_reach_settings():
    cfg = compose_config(["trainer.batch_size=7", "trainer.max_steps=30", "trainer.grad_clip=1.5"])
    settings = run_spec(cfg).trainer
    assert (settings.batch_size, settings.max_steps, settings.grad_clip) == (7, 30, 1.5)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("trainer.batch_size=0", "trainer.batch_size"),
        ("trainer.epochs=0", "trainer.epochs"),
        ("trainer.grad_clip=-1", "trainer.grad_clip"),
        ("trainer.early_stopping.patience=0", "trainer.early_stopping.patience"),
        ("trainer.early_stopping.metric=val/f1", "trainer.early_stopping.metric"),
    ],
)
def test_bad_trainer_values_name_their_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        run_spec(compose_config([override]))


def test_a_bad_target_is_reported_against_its_group():
    cfg = compose_config(["model._target_=sweepwise.models.Nope"])
    with pytest.raises(ConfigError, match=r"model\._target_='sweepwise.models.Nope'"):
        configure.build(cfg.model, "model", input_shape=(1, 8, 8), num_outputs=10)


def test_errors_raised_inside_a_part_keep_their_own_key():
    cfg = compose_config(["model=resnet", "model.depth=7"])
    with pytest.raises(ConfigError, match=r"model\.depth=7"):
        configure.build(cfg.model, "model", input_shape=(1, 8, 8), num_outputs=10)


def test_unknown_group_options_are_caught_before_hydra(tmp_path: Path):
    assert unknown_group_choice(["model=mlp", "trainer.epochs=3"], CONF_DIR) is None
    error = unknown_group_choice(["model=gpt"], CONF_DIR)
    assert error == "error: model='gpt': unknown option (choose from convnet, linear, mlp, resnet, transformer)"
    assert unknown_group_choice(["model=gpt", "--config-dir", str(tmp_path)], CONF_DIR) is None
    assert unknown_group_choice(["-m", "model=mlp,linear"], CONF_DIR) is None


@pytest.mark.parametrize(("choice", "file"), [("best", "best.pt"), ("last", "last.pt"), ("none", None)])
def test_which_checkpoint_a_run_logs(choice: str, file: str | None):
    assert run_spec(compose_config([f"tracking.log_checkpoints={choice}"])).tracking.checkpoint_file == file


def test_an_unknown_checkpoint_choice_names_the_key():
    with pytest.raises(ConfigError, match=r"tracking.log_checkpoints='every': must be best, last or none"):
        run_spec(compose_config(["tracking.log_checkpoints=every"]))
