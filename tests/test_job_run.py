"""A sweep's job, composed by `SweepComposer` and run by `run_owned_job`, is the job Hydra's own `load_sweep_config`
and `run_job` give: same config, same files, same `HydraConfig`, environment, working directory and callbacks."""

import logging
import os
import shutil
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
from omegaconf import DictConfig, OmegaConf, open_dict

from sweepwise.sweep.trial.hydra_job import run_owned_job
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
where: ${hydra:runtime.output_dir}
job_name: ${hydra:job.name}
hydra:
  sweep:
    dir: {root}/sweeps/${name}
    subdir: ${hydra.job.num}-${lr}
  job:
    chdir: {chdir}
    env_set:
      SWEEPWISE_JOB_RUN_TEST: ${hydra.job.name}
  callbacks:
    recorder:
      _target_: test_job_run.Recorder
"""

EVENTS: list[str] = []


class Recorder(Callback):
    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        EVENTS.append(f"start {config.hydra.job.num}")

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        EVENTS.append(f"end {config.hydra.job.num} {job_return.status.name} {job_return._return_value!r}")


def task(cfg: DictConfig) -> float:
    """Records what a task sees of its job."""
    EVENTS.append(
        "\n".join(
            [
                OmegaConf.to_yaml(cfg, resolve=True),
                f"struct {OmegaConf.is_struct(cfg)}",
                OmegaConf.to_yaml(HydraConfig.get()),
                f"cwd {os.getcwd()}",
                f"env {os.environ.get('SWEEPWISE_JOB_RUN_TEST')}",
            ]
        )
    )
    if cfg.lr < 0:
        raise ValueError("negative lr")
    return cfg.lr * cfg.model.width


def job_record(job: JobReturn, output_dir: Path) -> dict[str, Any]:
    """What a job leaves: its return, its saved config files and what the task and the callbacks saw."""
    files = {path.name: path.read_text() for path in sorted((output_dir / ".hydra").iterdir())}
    return {
        "status": job.status.name,
        "value": repr(job._return_value),
        "overrides": job.overrides,
        "working_dir": job.working_dir,
        "task_name": job.task_name,
        "cfg": OmegaConf.to_yaml(job.cfg),
        "hydra_cfg": OmegaConf.to_yaml(job.hydra_cfg),
        "files": files,
        "events": list(EVENTS),
        "cwd_after": os.getcwd(),
        "env_after": os.environ.get("SWEEPWISE_JOB_RUN_TEST"),
    }


@pytest.fixture
def app(tmp_path: Path, request: pytest.FixtureRequest):
    chdir = request.param
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "config.yaml").write_text(CONFIG.replace("{root}", str(tmp_path)).replace("{chdir}", str(chdir).lower()))
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


@pytest.mark.parametrize("app", [False, True], indirect=True, ids=["stay", "chdir"])
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
        job = run_one(hydra, master, composer, context, overrides)
        output_dir = Path(job.hydra_cfg.hydra.runtime.output_dir)
        records.append(job_record(job, output_dir))
        assert HydraConfig.instance().cfg is sweep_hydra_config
        shutil.rmtree(output_dir)
    theirs, ours = records
    assert ours == theirs
    assert theirs["cwd_after"] == cwd and theirs["env_after"] is None
    assert len(theirs["events"]) == 3 and "config.yaml" in theirs["files"]
