"""hydra-submitit-launcher's configs under sweepwise's sweeper, unchanged: `submitit_local` runs each trial as a
submitit local job (its `.submitit` folder, its settings), `submitit_slurm` each as a SLURM job with every field of
that plugin, whether the plugin is installed or not."""

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers import REPO, as_from_a_terminal, installed_elsewhere
from slurm_helpers import accounting
from sweep_helpers import TOY, load_study, states, study_so_far

from hydra_plugins.sweepwise_plugins.launcher_config import SUBMITIT_PLUGIN, SubmititSlurmConf
from sweepwise.internals.submitit_internals import sbatch_script
from sweepwise.spec.launch import gres_gpus
from sweepwise.sweep.launch.executor_choice import launcher_notes
from sweepwise.sweep.launch.slurm_executor import SlurmExecutor
from sweepwise.sweep.launch.slurm_requests import sbatch_parameters, slurm_settings
from sweepwise.sweep.trial.trial_runner import TrialRunner

pytestmark = pytest.mark.slow
PLUGIN = "hydra-submitit-launcher==1.2.0"
UPSTREAM_LOCAL = f"{SUBMITIT_PLUGIN}.submitit_launcher.LocalLauncher"


@pytest.fixture(scope="session")
def submitit_plugin() -> Path:
    """hydra-submitit-launcher, for the apps that put it on their path: sweepwise's own environment keeps it out,
    so that both cases can be tested."""
    return installed_elsewhere(PLUGIN)


def run_toy_with(args: Sequence[str], cwd: Path, path: Sequence[Path] = ()) -> subprocess.CompletedProcess:
    """The toy sweep under `python -W error`, with `path` (plugins installed elsewhere) importable."""
    pythonpath = os.pathsep.join([str(REPO / "tests" / "plugins"), *map(str, path)])
    env = {**os.environ, "PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-W", "error", str(TOY), "-m", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_sweepwise_itself_leaves_hydra_submitit_launcher_out():
    assert importlib.util.find_spec(SUBMITIT_PLUGIN) is None  # the case the next tests call "not installed"


@pytest.mark.parametrize("installed", [False, True], ids=["plugin-absent", "plugin-installed"])
def test_a_submitit_local_sweep_runs_each_trial_as_a_submitit_job(tmp_path: Path, installed: bool, request):
    path = [request.getfixturevalue("submitit_plugin")] if installed else []
    args = ["hydra/launcher=submitit_local", "hydra.launcher.cpus_per_task=2", "hydra.sweeper.n_trials=3"]
    done = run_toy_with(args, tmp_path, path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "optuna sweeper, launcher submitit_local (each trial a submitit local job): study toy" in lines[0]
    assert "hydra.launcher.cpus_per_task=2 has no effect: submitit local jobs share this machine" in lines
    study = load_study(tmp_path, "toy")
    assert states(study) == {"COMPLETE": 3}
    jobs = {trial.user_attrs["job_id"] for trial in study.trials}
    folders = tmp_path / "multirun" / "toy" / ".submitit"
    assert jobs <= {folder.name for folder in folders.iterdir()}  # the plugin's default submitit_folder
    for job in jobs:
        assert (folders / job / f"{job}_0_result.pkl").is_file() and (folders / job / f"{job}_0_log.out").is_file()
    hydra_config = (tmp_path / "multirun" / "toy" / "0" / ".hydra" / "hydra.yaml").read_text()
    expected = UPSTREAM_LOCAL if installed else "sweepwise_plugins.submitit_launchers.SubmititLocalLauncher"
    assert expected in hydra_config  # whichever plugin provides the config, sweepwise runs it


def test_a_submitit_local_job_over_its_time_limit_is_requeued_from_where_it_was(tmp_path: Path):
    """submitit signals a job 30 s before `timeout_min`: a trial that would outlive the limit (the first attempt
    hangs) goes on as the same trial's next attempt, as it would on SLURM."""
    args = ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=1", "hydra.sweeper.n_trials=1"]
    done = run_toy_with([*args, "behaviour=hang_once"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (trial,) = load_study(tmp_path, "toy").trials
    assert trial.state.name == "COMPLETE" and 25 < trial.duration.total_seconds() < 60
    assert "Requeued job" in (tmp_path / "multirun" / "toy" / "0" / "trial.log").read_text()


def full_slurm_config(**changes: object) -> dict:
    config = {
        "_target_": f"{SUBMITIT_PLUGIN}.submitit_launcher.SlurmLauncher",
        "submitit_folder": "/shared/sweep/.submitit/%j",
        "timeout_min": 240,
        "cpus_per_task": 10,
        "gpus_per_node": None,
        "tasks_per_node": 1,
        "mem_gb": None,
        "nodes": 1,
        "name": "my_app",
        "stderr_to_stdout": True,
        "partition": "gpu",
        "qos": "high",
        "comment": "sweep of lr",
        "constraint": "a100",
        "exclude": "node[1-3]",
        "gres": "gpu:a100:2",
        "cpus_per_gpu": 4,
        "gpus_per_task": 2,
        "mem_per_gpu": "40G",
        "mem_per_cpu": None,
        "account": "lab",
        "signal_delay_s": 120,
        "max_num_timeout": 3,
        "python": "/opt/venv/bin/python",
        "additional_parameters": {"mail-type": "END"},
        "array_parallelism": 256,
        "setup": ["module load cuda"],
        "srun_args": ["--cpu-bind=none"],
        "use_srun": True,
    }
    return {**config, **changes}


def test_every_field_of_a_submitit_slurm_config_reaches_the_jobs_sbatch_script(tmp_path: Path):
    settings = slurm_settings(full_slurm_config())
    script = sbatch_script("python -m job", tmp_path, sbatch_parameters(settings))
    for option in [
        "--time=240",
        "--cpus-per-task=10",
        "--partition=gpu",
        "--qos=high",
        "--comment='sweep of lr'",
        "--constraint=a100",
        "--exclude='node[1-3]'",
        "--gres=gpu:a100:2",
        "--cpus-per-gpu=4",
        "--gpus-per-task=2",
        "--mem-per-gpu=40G",
        "--account=lab",
        "--signal=USR2@120",
        "--mail-type=END",
    ]:
        assert f"#SBATCH {option}" in script, option
    assert "--error" not in script  # stderr_to_stdout: one file
    assert "module load cuda" in script and "--cpu-bind=none" in script


def test_without_srun_the_job_runs_python_directly(tmp_path: Path):
    script = sbatch_script("python -m job", tmp_path, sbatch_parameters(slurm_settings(full_slurm_config())))
    plain = sbatch_script(
        "python -m job", tmp_path, sbatch_parameters(slurm_settings(full_slurm_config(use_srun=False)))
    )
    assert "srun" in script.split("# command")[-1] and "srun" not in plain.split("# command")[-1]


def test_the_jobs_run_the_python_the_config_names(tmp_path: Path):
    settings = slurm_settings(full_slurm_config())
    executor = SlurmExecutor(TrialRunner.__new__(TrialRunner), settings, tmp_path)._executor(tmp_path, {})
    assert executor.python == "/opt/venv/bin/python"


def test_the_submitit_slurm_defaults_are_the_plugins():
    assert SubmititSlurmConf().cpus_per_task is None and SubmititSlurmConf().gpus_per_node is None
    assert SubmititSlurmConf().max_num_timeout == 0 and SubmititSlurmConf().signal_delay_s == 120
    assert SubmititSlurmConf().submitit_folder == "${hydra.sweep.dir}/.submitit/%j"


@pytest.mark.parametrize(("gres", "gpus"), [("gpu:1", 1), ("gpu:a100:2", 2), ("gpu", 1), ("nvme:1,gpu:4", 4), ("x", 0)])
def test_the_gpus_a_gres_asks_for(gres: str, gpus: int):
    assert gres_gpus(gres) == gpus


SLURM_CONFIG = """
defaults:
  - toy
  - override hydra/launcher: submitit_slurm
  - _self_

hydra:
  launcher:
    timeout_min: 10
    cpus_per_task: 1
    {gpus}
    tasks_per_node: 1
    mem_gb: 1
    partition: debug
    submitit_folder: ${{hydra.sweep.dir}}/.submitit/%j
"""


@pytest.mark.parametrize(
    ("gpus", "directive", "installed"),
    [
        ("gpus_per_node: 1", "--gpus-per-node=1", False),
        ("gres: gpu:1", "--gres=gpu:1", False),
        ("gpus_per_node: 1", "--gpus-per-node=1", True),
    ],
    ids=["gpus_per_node", "gres", "gpus_per_node-plugin-installed"],
)
def test_a_submitit_slurm_config_as_the_plugins_docs_write_it_runs_every_trial_to_completion(
    slurm, tmp_path: Path, gpus: str, directive: str, installed: bool, request
):
    path = [request.getfixturevalue("submitit_plugin")] if installed else []
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "on_slurm.yaml").write_text(SLURM_CONFIG.format(gpus=gpus))
    args = ["--config-dir", str(tmp_path / "conf"), "--config-name", "on_slurm", "hydra.sweeper.n_trials=3"]
    done = run_toy_with([*args, "hydra.launcher.array_parallelism=8"], tmp_path, path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "launcher submitit_slurm (each trial a SLURM job): study toy" in lines[0]
    assert (
        "hydra.launcher.array_parallelism=8 has no effect in a sweep: hydra.sweeper.n_jobs trials are in flight at once"
        in lines
    )
    study = load_study(tmp_path, "toy")
    assert states(study) == {"COMPLETE": 3}
    jobs = [trial.user_attrs["job_id"] for trial in study.trials]
    assert set(accounting(jobs).values()) == {"COMPLETED"}
    folders = tmp_path / "multirun" / "toy" / ".submitit"
    for job in jobs:  # in the plugin's folder, each job as it was asked for
        script = (folders / job / f"{job}_submission.sh").read_text()
        assert f"#SBATCH {directive}\n" in script and "#SBATCH --mem=1GB\n" in script
        assert (folders / job / f"{job}_0_log.out").is_file()


def test_a_killed_sweeps_submitit_local_jobs_are_adopted_by_the_same_command(tmp_path: Path):
    """SIGKILL to the sweep alone: its jobs, processes of their own, run on; the re-run watches them again instead
    of running their trials twice."""
    args = ["hydra/launcher=submitit_local", "hydra.sweeper.n_trials=2", "durations=[12]"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests" / "plugins"), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-W", "error", str(TOY), "-m", *args]
    sweep = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        study = study_so_far(tmp_path, "toy")
        if study is not None and sum("job_id" in trial.user_attrs for trial in study.trials) == 2:
            break
    sweep.kill()  # the sweep's process alone, as an out-of-memory kill or a lost login shell would
    sweep.wait()
    done = run_toy_with(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = {trial.number: trial.user_attrs["job_id"] for trial in load_study(tmp_path, "toy").trials}
    for number, job in jobs.items():
        assert f"trial {number}: adopted submitit local job {job}, left running by an earlier sweep" in done.stdout
    assert states(load_study(tmp_path, "toy")) == {"COMPLETE": 2}  # each trial ran once, in its first job


def test_ctrl_c_on_a_submitit_local_sweep_ends_in_its_one_line_and_the_same_command_finishes_it(tmp_path: Path):
    """Ctrl-C reaches every process of the terminal's group, submitit's job controllers too: their
    KeyboardInterrupt goes to each job's controller.log, not under the sweep's one line."""
    args = ["hydra/launcher=submitit_local", "hydra.sweeper.n_trials=2", "behaviour=hang_once"]  # until stopped
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests" / "plugins"), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-W", "error", str(TOY), "-m", *args]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    sweep = subprocess.Popen(
        command, cwd=tmp_path, env=env, start_new_session=True, preexec_fn=as_from_a_terminal, **pipes
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((tmp_path / "multirun" / "toy").glob("*/hung-once"))) < 2:
        time.sleep(0.5)  # until both trials' tasks run (and hang): a job id is there before its process starts
    os.killpg(sweep.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to every process of its group
    out, err = sweep.communicate(timeout=60)
    assert sweep.returncode == 130, err[-3000:]
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, out[-2000:] + err[-2000:]
    assert "any trial it was running is FAIL (interrupted); the same command resumes it" in out
    logs = list((tmp_path / "multirun" / "toy").rglob("controller.log"))
    assert len(logs) == 2 and any("KeyboardInterrupt" in log.read_text() for log in logs)
    done = run_toy_with(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert states(load_study(tmp_path, "toy"))["COMPLETE"] == 2


def test_a_field_sweepwise_does_not_know_is_named_in_one_line_and_left_aside():
    """A newer hydra-submitit-launcher's config may hold fields that 1.2.0 has not (its main branch's
    `wait_for_completion`): the sweep runs, and says which it leaves aside."""
    config = full_slurm_config(wait_for_completion=True)
    notes = launcher_notes(slurm_settings(config), True, config)
    assert notes == ["hydra.launcher.wait_for_completion=True has no meaning for sweepwise: left aside"]
