"""The logic of packing trials into SLURM jobs, without a cluster: settings, job parameters, continuing a trial
after its job restarts, each task's GPU, and how task 0 waits for the others."""

import os
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage

from hydra_plugins.sweepwise_plugins.config import SlurmLauncherConf
from sweepwise.errors import ConfigError
from sweepwise.study.records import RUN_ID_ATTR
from sweepwise.sweep.launch import slurm_packs
from sweepwise.sweep.launch.executor_choice import placement
from sweepwise.sweep.launch.slurm_packs import continued, outcome_path, pack_job_id, split_pack_job_id
from sweepwise.sweep.launch.slurm_requests import pack_name, sbatch_parameters, slurm_settings, trials_per_job
from sweepwise.sweep.trial.trial_context import TrialContext
from sweepwise.sweep.trial.trial_runner import TrialJob

SETTINGS = {"_target_": "slurm", "name": "sweep"}


@pytest.mark.parametrize(
    ("overrides", "processes", "message"),
    [
        ({"trials_per_gpu": 0}, 1, "hydra.launcher.trials_per_gpu=0: must be at least 1"),
        ({"trials_per_gpu": 2}, 2, "hydra.launcher.trials_per_gpu=2: packs one-process trials, and trainer.devices=2"),
        (
            {"trials_per_gpu": 2, "nodes": 2},
            1,
            "hydra.launcher.trials_per_gpu=2: packs trials on one node, not nodes=2",
        ),
    ],
)
def test_packing_settings_that_cannot_work_are_refused_naming_the_key(overrides, processes, message):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(")):
        slurm_settings({**SETTINGS, **overrides}, processes)


def test_a_pack_is_trials_per_gpu_on_each_gpu_one_task_each_with_each_trials_memory():
    settings = slurm_settings({**SETTINGS, "trials_per_gpu": 3, "gpus_per_node": 2, "mem_gb": 4})
    assert trials_per_job(settings) == 6
    parameters = sbatch_parameters(settings, 5)
    assert parameters["ntasks_per_node"] == 5 and parameters["mem"] == "20GB" and parameters["gpus_per_node"] == 2
    assert trials_per_job(slurm_settings({**SETTINGS, "trials_per_gpu": 3, "gpus_per_node": 0})) == 3
    unpacked = slurm_settings({**SETTINGS, "gpus_per_node": 2})
    assert trials_per_job(unpacked) == 1 and sbatch_parameters(unpacked)["ntasks_per_node"] == 1  # a job per trial


def context(number: int, storage: str = "unused", trial_id: int = 0, run_id: str | None = None) -> TrialContext:
    return TrialContext("study", storage, trial_id, number, ("maximize",), None, "uri", "0", "parent", run_id=run_id)


def test_a_packs_job_is_named_after_its_study_and_trials():
    jobs = [TrialJob(("x=1",), number, context(number)) for number in (4, 5)]
    assert pack_name(SlurmLauncherConf(name="sweep"), jobs) == "study-trials-4+5"
    plain = [TrialJob(("x=1",), number) for number in (0, 1, 2)]
    assert pack_name(SlurmLauncherConf(name="sweep"), plain) == "sweep-jobs-0+1+2"


def test_a_packed_trials_job_id_names_its_task():
    assert split_pack_job_id(pack_job_id("1234", 3)) == ("1234", 3)
    assert split_pack_job_id("1234") is None


def test_a_restarted_job_continues_each_trial_in_the_run_its_first_start_recorded(tmp_path: Path):
    storage = str(tmp_path / "study.journal")
    study = optuna.create_study(storage=JournalStorage(JournalFileBackend(storage)), study_name="study")
    trial = study.ask()
    trial.set_user_attr(RUN_ID_ATTR, "run-made-by-the-first-start")
    job = TrialJob(("x=1",), 0, context(0, storage, trial._trial_id))
    assert continued(job, 0) is job
    again = continued(job, 2)
    assert again.context is not None and again.context.attempt == 2
    assert again.context.run_id == "run-made-by-the-first-start"
    known = TrialJob(("x=1",), 0, context(0, "no storage is read", run_id="run-1"))
    assert continued(known, 1).context == replace(context(0, "no storage is read", run_id="run-1"), attempt=1)


@pytest.mark.parametrize(("visible", "task", "expected"), [("4,7", 0, "4"), ("4,7", 1, "4"), ("4,7", 2, "7")])
def test_each_task_sees_its_share_of_the_jobs_gpus(monkeypatch, visible, task, expected):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    slurm_packs._use_own_gpu(task, trials_per_gpu=2)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == expected


def test_task_zero_waits_for_the_other_trials_outcomes_and_not_for_a_killed_task(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(slurm_packs, "POLL_S", 0.05)
    dead = subprocess.Popen(["true"])
    dead.wait()
    slurm_packs._pid_path(tmp_path, "9", 1).write_text(str(os.getpid()))  # alive: waited for until its outcome
    slurm_packs._pid_path(tmp_path, "9", 2).write_text(str(dead.pid))  # gone without an outcome: not waited for
    threading.Timer(0.5, lambda: outcome_path(tmp_path, "9", 1).write_bytes(b"")).start()
    started = time.monotonic()
    slurm_packs._wait_for_other_tasks(tmp_path, "9", 3)
    assert 0.5 <= time.monotonic() - started < 5


def test_a_sweeps_slurm_slots_carry_the_packing_for_the_preflights_memory_check():
    slots = placement(slurm_settings({**SETTINGS, "trials_per_gpu": 3}), "hydra.sweeper.n_jobs", 6)
    assert slots.size == 6 and slots.trials_per_gpu == 3 and slots.environments() == [{}] * 6
