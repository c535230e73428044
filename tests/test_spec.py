"""The config's one check: the schema agrees with conf/, every value is checked once into a typed spec, and each
refusal is one `key=value: reason` line."""

import subprocess
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest
import yaml
from helpers import CONF_DIR, REPO, compose_config, default_spec, run_train, trainer_settings
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from hydra_plugins.sweepwise_plugins.config import LocalLauncherConf
from sweepwise.errors import ConfigError
from sweepwise.spec.convert import compose_value_error, typed
from sweepwise.spec.launch import bounded, local_launcher
from sweepwise.spec.run import run_spec, task_spec
from sweepwise.spec.schema import SCHEMAS, RetrySettings, TrainerSettings
from sweepwise.tracking.retry import ENVIRONMENT

# where each schema's values live in conf/: a group's default option, or sections of config.yaml and of every
# task's file (each task sets the objective's metric)
VALUES = {
    "trainer": [("trainer/default.yaml", None)],
    "tracking": [("tracking/mlflow.yaml", None)],
    "recipe": [("config.yaml", "recipe")],
    "objective": [("config.yaml", "objective"), ("task/classification.yaml", "objective")],
}


def yaml_values(name: str) -> dict:
    merged: dict = {}
    for file, section in VALUES[name]:
        values = yaml.safe_load((CONF_DIR / file).read_text())
        values.pop("defaults", None)
        merged.update(values[section] if section else values)
    return merged


@pytest.mark.parametrize("task", sorted(path.name for path in (CONF_DIR / "task").glob("*.yaml")))
def test_every_task_sets_the_objectives_metric_and_nothing_else_of_it(task: str):
    values = yaml.safe_load((CONF_DIR / "task" / task).read_text())
    assert set(values) == {"task", "objective"} and set(values["objective"]) == {"metric"}


def keys(schema: type) -> dict:
    """A schema's fields, nested ones as dicts of theirs."""
    return {field.name: keys(field.type) if is_dataclass(field.type) else None for field in fields(schema)}


def shape(values: dict) -> dict:
    return {key: shape(value) if isinstance(value, dict) else None for key, value in values.items()}


@pytest.mark.parametrize("name", SCHEMAS)
def test_each_schema_has_exactly_the_keys_of_its_yaml_and_no_default_of_its_own(name: str):
    schema = SCHEMAS[name]
    assert keys(schema) == shape(yaml_values(name))
    node = OmegaConf.structured(schema)  # what Hydra starts from before the YAML's values: nothing
    assert all(OmegaConf.is_missing(node, key) for key in node)


def test_the_spec_holds_conf_values():
    spec = default_spec()
    assert spec.trainer.epochs == yaml_values("trainer")["epochs"] == 20
    assert spec.tracking.retry == RetrySettings(**yaml_values("tracking")["retry"])
    assert spec.recipe.budget_steps == yaml_values("recipe")["budget_steps"]
    assert (spec.objective.metric, spec.learning_rate) == ("val/acc", pytest.approx(3e-4))


def test_an_option_is_one_field_read_generically():
    assert {field.name for field in fields(TrainerSettings)} >= {"device", "precision", "progress", "resume_from"}
    assert set(ENVIRONMENT) == {field.name for field in fields(RetrySettings)}


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("trainer.epochs=0", "trainer.epochs=0: must be >= 1"),
        ("trainer.max_steps=0", "trainer.max_steps=0: must be >= 1 or null (use epochs)"),
        ("trainer.eval_batch_size=0", "trainer.eval_batch_size=0: must be >= 1"),
        ("trainer.devices=3", "trainer.devices=3: must divide trainer.batch_size=64"),
        ("trainer.precision=fp8", "trainer.precision='fp8': must be auto, bf16 or fp32"),
        ("trainer.progress=loud", "trainer.progress='loud': must be one of auto, bar, plain, off"),
        ("trainer.grad_clip=-1", "trainer.grad_clip=-1.0: must be > 0 or null (off)"),
        ("objective.direction=up", "objective.direction='up': must be maximize or minimize"),
        (
            "objective.direction=minimize",
            "objective.direction='minimize': val/acc is better higher: maximize it, or leave the direction out to "
            "follow the metric",
        ),
        (
            "trainer.early_stopping.direction=maximize",
            "trainer.early_stopping.direction='maximize': val/loss is better lower: minimize it, or leave the "
            "direction out to follow the metric",
        ),
        ("tracking.log_every_n_steps=-1", "tracking.log_every_n_steps=-1: must be >= 0 (0 logs per epoch only)"),
        ("tracking.retry.max_retries=-1", "tracking.retry.max_retries=-1: must be a non-negative whole number"),
        (
            "+tracking.retry.forever=1",
            "tracking.retry.forever=1: unknown key (known: max_retries, backoff_factor, timeout_s)",
        ),
        ("recipe.preflight=strict", "recipe.preflight='strict': must be one of fail, warn, off"),
        ("recipe.ensemble_top_k=6", "recipe.ensemble_top_k=6: must be an integer from 0 (off) to 5"),
        ("recipe.overfit_steps=0", "recipe.overfit_steps=0: must be >= 1"),
        ("optimizer.lr=0", "optimizer.lr=0.0: must be > 0"),
        ("optimizer.lr=fast", "optimizer.lr='fast': must be a number"),
    ],
)
def test_each_check_names_its_key_and_value(override: str, line: str):
    with pytest.raises(ConfigError) as refused:
        run_spec(compose_config([override]))
    assert str(refused.value) == line


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("trainer.epochs=abc", "trainer.epochs='abc': must be an integer"),
        ("trainer.grad_clip=big", "trainer.grad_clip='big': must be a number"),
        ("trainer.deterministic=maybe", "trainer.deterministic='maybe': must be true or false"),
        ("trainer.batch_size=null", "trainer.batch_size=None: must not be null"),
        ("tracking.retry.timeout_s=1.5", "tracking.retry.timeout_s=1.5: must be an integer"),
    ],
)
def test_a_wrong_type_is_refused_as_the_config_is_composed(override: str, line: str):
    with pytest.raises(ConfigCompositionException) as refused:
        compose_config([override])
    assert str(compose_value_error(refused.value)) == line


def test_a_plain_copy_meets_the_same_schema():
    """Another process gets the config resolved into plain containers: typing it checks it the same way."""
    plain = OmegaConf.create(OmegaConf.to_container(compose_config(), resolve=True))
    assert run_spec(plain) == default_spec()
    plain.trainer.batch_size = "many"
    with pytest.raises(ConfigError, match=r"^trainer\.batch_size='many': must be an integer$"):
        run_spec(plain)
    with pytest.raises(ConfigError, match=r"^trainer\.epoch=3: unknown key \(known: epochs, "):
        typed(OmegaConf.create({"epoch": 3}), TrainerSettings, "trainer")


def test_a_sweep_checks_without_the_job_folder_and_reads_only_sweepwise_sections():
    cfg = compose_config()
    assert run_spec(cfg, resolve_paths=False).trainer.checkpoint_dir is None
    assert cfg.trainer.checkpoint_dir.endswith("checkpoints")  # the config itself is untouched
    assert default_spec().trainer.checkpoint_folder == Path(cfg.trainer.checkpoint_dir)
    own = task_spec(cfg)
    assert (own.preflight, own.log_model, own.retry) == ("fail", True, default_spec().tracking.retry)
    other = task_spec(OmegaConf.create({"recipe": {"preflight": "sometimes"}, "tracking": {"retry": "x"}}))
    assert (other.preflight, other.ensemble_top_k, other.log_model, other.retry) == ("off", 0, False, None)


def test_changed_settings_are_checked_again():
    with pytest.raises(ConfigError, match=r"^trainer\.devices=2: must divide trainer\.batch_size=33$"):
        trainer_settings(batch_size=33, devices=2)


def test_launcher_and_sweeper_values_are_checked_in_one_place():
    assert bounded("hydra.sweeper.n_trials", 3, 1) == 3
    with pytest.raises(ConfigError, match=r"^hydra\.sweeper\.max_failure_rate=2: must be a number in \[0, 1\]$"):
        bounded("hydra.sweeper.max_failure_rate", 2, 0, 1, integer=False)
    assert local_launcher({"_target_": "x", "gpus": [0, 1]}) == LocalLauncherConf(gpus=["0", "1"])
    with pytest.raises(ConfigError, match=r"^hydra\.launcher\.trials_per_gpu=0: must be an integer >= 1$"):
        local_launcher({"trials_per_gpu": 0})
    with pytest.raises(ConfigError, match="'gpu0' is not a GPU"):
        local_launcher({"gpus": ["gpu0"]})


def test_a_wrong_type_on_the_command_line_is_one_line(tmp_path: Path):
    done = run_train(["trainer.epochs=abc"], tmp_path, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["error: trainer.epochs='abc': must be an integer"]
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "outputs").exists()


def test_another_app_gets_none_of_sweepwise_schema(tmp_path: Path):
    """The schema attaches through sweepwise's conf/ only: an app's own `trainer` takes any key and value."""
    (tmp_path / "app.py").write_text(
        "import hydra\n\n"
        "@hydra.main(version_base='1.3', config_path=None, config_name=None)\n"
        "def main(cfg):\n    print(cfg.trainer.epochs, cfg.trainer.anything)\n\n"
        "if __name__ == '__main__':\n    main()\n"
    )
    args = ["+trainer.epochs=abc", "+trainer.anything=1", "hydra.run.dir=.", "hydra.output_subdir=null"]
    done = subprocess.run([sys.executable, "app.py", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["abc", "1"]
    assert REPO.is_dir()


@pytest.mark.parametrize(
    ("overrides", "objective", "stopping"),
    [
        ([], ("val/acc", "maximize"), ("val/loss", "minimize")),
        (["objective.metric=val/loss"], ("val/loss", "minimize"), ("val/loss", "minimize")),
        (
            ["objective.metric=train/loss", "trainer.early_stopping.metric=val/acc"],
            ("train/loss", "minimize"),
            ("val/acc", "maximize"),
        ),
    ],
)
def test_a_direction_left_out_follows_its_metric(overrides: list[str], objective: tuple, stopping: tuple):
    spec = run_spec(compose_config(overrides))
    assert (spec.objective.metric, spec.objective.direction) == objective
    rule = spec.trainer.early_stopping
    assert (rule.metric, rule.direction) == stopping


@pytest.mark.parametrize(
    ("overrides", "refusal"),
    [
        (["+loss=l1"], "loss='l1': sweepwise's training reads no such key, so it would do nothing"),
        (
            ["task=regression", "+loss=l1"],
            "loss='l1': sweepwise's training reads no such key, so it would do nothing (did you mean task.loss?)",
        ),
        (["+password=hunter2"], "password='[redacted]': sweepwise's training reads no such key"),
        (["+db.password=hunter2"], None),  # a section of the user's own, for their parts
        (["+lr_base=0.01", "optimizer.lr=${lr_base}"], None),  # read through an interpolation
    ],
)
def test_a_top_level_value_nothing_reads_is_refused_by_name(overrides: list[str], refusal: str | None):
    cfg = compose_config(overrides)
    if refusal is None:
        run_spec(cfg)
        return
    with pytest.raises(ConfigError) as refused:
        run_spec(cfg)
    assert str(refused.value).startswith(refusal) and "hunter2" not in str(refused.value)
