"""`sweepwise.internals.hydra_internals` against Hydra's public path, on the same app and the same overrides: a
sweep's job config composed by `SweepComposer` is the config of Hydra's own `load_sweep_config` (or the same
error), and a job run by `run_owned_job` is the job of Hydra's own `run_job`: same return, same files (the job's
log included), same `HydraConfig`, environment, working directory, warnings and callbacks."""

import logging
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
from hydra._internal.callbacks import Callbacks
from hydra._internal.hydra import Hydra
from hydra._internal.utils import create_config_search_path
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, run_job, setup_globals
from hydra.experimental.callback import Callback
from hydra.types import HydraContext, RunMode
from hydra.version import VersionBase
from omegaconf import DictConfig, OmegaConf, open_dict
from packaging.version import Version

from sweepwise.internals.hydra_internals import BASIC_LAUNCHER, run_owned_job
from sweepwise.sweep.trial.trial_compose import SweepComposer


@pytest.fixture(autouse=True)
def logging_as_it_was():
    """Each job here configures logging as Hydra does (a file handler in the job's folder, which the test's
    folder outlives by a moment): put the process's logging back, so later tests do not log into a gone file."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


CONFIG = """
defaults:
  - model: small
  - _self_
name: demo
lr: 0.1
tags: [a, b]
where: ${hydra:runtime.output_dir}
job_name: ${hydra:job.name}
hydra:
  sweep:
    dir: sweeps/${name}
    subdir: ${hydra.job.num}-${lr}
  job:
    {chdir}
    env_set:
      SWEEPWISE_JOB_RUN_TEST: ${hydra.job.name}
  callbacks:
    recorder:
      _target_: test_hydra_internals.Recorder
"""

EVENTS: list[str] = []


class Recorder(Callback):
    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        EVENTS.append(f"start {os.getcwd()}\n{OmegaConf.to_yaml(config)}")

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        EVENTS.append(f"end {job_return.status.name} {job_return._return_value!r}\n{OmegaConf.to_yaml(config)}")


def task(cfg: DictConfig) -> float:
    """Records what a task sees of its job, and logs a line to the job's log."""
    logging.getLogger("task").info("training with lr %s", cfg.lr)
    EVENTS.append(
        "\n".join(
            [
                OmegaConf.to_yaml(cfg, resolve=True),
                f"struct {OmegaConf.is_struct(cfg)} readonly {OmegaConf.is_readonly(cfg)}",
                OmegaConf.to_yaml(HydraConfig.get()),
                f"cwd {os.getcwd()}",
                f"env {os.environ.get('SWEEPWISE_JOB_RUN_TEST')}",
            ]
        )
    )
    if cfg.lr < 0:
        raise ValueError("negative lr")
    return cfg.lr * cfg.model.width


def job_record(job: JobReturn, output_dir: Path, caught: list[warnings.WarningMessage]) -> dict[str, Any]:
    """What a job leaves: its return, every file it wrote (log times masked), what the task and the callbacks saw."""
    files = {
        str(path.relative_to(output_dir)): re.sub(r"^\[[^]]*\]", "[TIME]", path.read_text(), flags=re.MULTILINE)
        for path in sorted(output_dir.rglob("*"))
        if path.is_file()
    }
    return {
        "status": job.status.name,
        "value": repr(job._return_value),
        "overrides": job.overrides,
        "working_dir": job.working_dir,
        "task_name": job.task_name,
        "cfg": OmegaConf.to_yaml(job.cfg),
        "cfg_flags": (OmegaConf.is_struct(job.cfg), OmegaConf.is_readonly(job.cfg)),
        "hydra_cfg": OmegaConf.to_yaml(job.hydra_cfg),
        "hydra_cfg_readonly": OmegaConf.is_readonly(job.hydra_cfg.hydra),
        "files": files,
        "events": list(EVENTS),
        "warnings": [(warning.category, str(warning.message)) for warning in caught],
        "cwd_after": os.getcwd(),
        "env_after": os.environ.get("SWEEPWISE_JOB_RUN_TEST"),
    }


CHDIR = {"stay": "chdir: false", "chdir": "chdir: true", "unset-1.1": "", "unset-1.3": ""}


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    """An app of two config groups, composed for a multirun in `tmp_path` (its sweep folder relative to it), under
    the version_base the case names (1.3 unless it says otherwise)."""
    case = request.param
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(VersionBase.instance(), "version_base", Version("1.1" if case == "unset-1.1" else "1.3"))
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "config.yaml").write_text(CONFIG.replace("{chdir}", CHDIR[case]))
    (conf / "model" / "small.yaml").write_text("width: 4\n")
    (conf / "model" / "large.yaml").write_text("width: 64\nextra: {depth: 3}\n")
    GlobalHydra.instance().clear()
    setup_globals()
    hydra = Hydra.create_main_hydra2("app", create_config_search_path(str(conf)))
    master = hydra.compose_config("config", [], run_mode=RunMode.MULTIRUN, with_log_configuration=False)
    HydraConfig.instance().set_config(master)
    context = HydraContext(config_loader=hydra.config_loader, callbacks=Callbacks(master))
    yield hydra, master, context
    GlobalHydra.instance().clear()


def numbered(config: DictConfig, num: int = 3) -> DictConfig:
    with open_dict(config):
        config.hydra.job.id = config.hydra.job.num = num
    return config


def hydras_job(hydra: Hydra, master: DictConfig, _: SweepComposer, context: HydraContext, overrides: list[str]):
    config = numbered(hydra.config_loader.load_sweep_config(master, overrides))
    return run_job(task, config, "hydra.sweep.dir", "hydra.sweep.subdir", context)


def our_job(_: Hydra, __: DictConfig, composer: SweepComposer, context: HydraContext, overrides: list[str]):
    return run_owned_job(context, task, numbered(composer.compose(overrides)))


@pytest.mark.parametrize("app", list(CHDIR), indirect=True)
@pytest.mark.parametrize(
    "overrides",
    [["lr=0.5"], ["model=large", "lr=0.25", "+extra_key=1"], ["lr=-1", "name=other"], ["model.width=9", "lr=2"]],
    ids=["value", "group-and-new-key", "failing-task", "nested-value"],
)
def test_sweep_job_matches_hydras_own(app, overrides: list[str]):
    hydra, master, context = app
    composer = SweepComposer(hydra.config_loader, master)
    cwd, sweep_hydra_config = os.getcwd(), HydraConfig.instance().cfg
    records = []
    for run_one in hydras_job, our_job:
        EVENTS.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            job = run_one(hydra, master, composer, context, overrides)
        output_dir = Path(job.hydra_cfg.hydra.runtime.output_dir)
        records.append(job_record(job, output_dir, caught))
        assert HydraConfig.instance().cfg is sweep_hydra_config
        shutil.rmtree(output_dir)
    theirs, ours = records
    assert ours == theirs
    assert theirs["cwd_after"] == cwd and theirs["env_after"] is None
    assert len(theirs["events"]) == 3 and {".hydra/config.yaml", "app.log"} <= set(theirs["files"])
    assert "training with lr" in theirs["files"]["app.log"]


@pytest.mark.parametrize("app", ["stay"], indirect=True)
@pytest.mark.parametrize(
    "overrides",
    [
        ["lr=0.5", "name=run"],
        ["model=large", "model.extra.depth=5"],
        ["+new.nested=[1,2]", "++lr=3", "~tags"],
        ["tags=[x,y,z]", "name='quoted value'", "lr=1e-3"],
        ["model.width=${lr}", "hydra.job.chdir=true", "name=null"],
        ["+model.extra={depth: 2}", "model=large"],
    ],
    ids=["values", "group-then-value", "add-force-delete", "lists-and-quotes", "interpolation-and-hydra", "dict"],
)
def test_composed_config_matches_hydras_own(app, overrides: list[str]):
    hydra, master, _ = app
    composer = SweepComposer(hydra.config_loader, master)
    theirs = hydra.config_loader.load_sweep_config(master, overrides)
    composer.compose(["lr=9"])  # a cached composition is reused, not changed
    ours = composer.compose(overrides)
    assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(theirs)
    assert OmegaConf.is_struct(ours) == OmegaConf.is_struct(theirs)


@pytest.mark.parametrize("app", ["stay"], indirect=True)
@pytest.mark.parametrize(
    "overrides",
    [["missing=1"], ["+lr=2"], ["~absent"], ["model.width=[1"]],
    ids=["unknown", "add-existing", "delete-absent", "syntax"],
)
def test_bad_override_fails_as_in_hydra(app, overrides: list[str]):
    hydra, master, _ = app
    composer = SweepComposer(hydra.config_loader, master)
    with pytest.raises(Exception) as theirs:
        hydra.config_loader.load_sweep_config(master, overrides)
    with pytest.raises(Exception) as ours:
        composer.compose(overrides)
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))


@pytest.mark.parametrize("app", ["stay"], indirect=True)
def test_basic_launcher_is_the_one_hydra_composes(app):
    hydra, master, _ = app
    composed = hydra.config_loader.load_sweep_config(master, ["hydra/launcher=basic"])
    assert composed.hydra.launcher._target_ == BASIC_LAUNCHER
