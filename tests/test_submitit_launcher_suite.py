"""What hydra-submitit-launcher's own tests promise, against sweepwise's `submitit_local` and `submitit_slurm`
(the plugin not installed): discovery, Hydra's launcher conformance suites with the plugin's parameters, its
example app, a failing job's remote traceback, and its `python` and `tasks_per_node` parameters. Where the
plugin's tests mock its internals, these check sweepwise's instead."""

import subprocess
import sys
from pathlib import Path

import pytest
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.test_utils.launcher_common_tests import IntegrationTestSuite, LauncherTestSuite
from hydra.version import _UNSPECIFIED_, VersionBase
from omegaconf import OmegaConf

from hydra_plugins.sweepwise_plugins.launcher_config import SubmititSlurmConf
from hydra_plugins.sweepwise_plugins.submitit_launchers import SubmititLocalLauncher, SubmititSlurmLauncher
from sweepwise.sweep.launch.slurm_requests import sbatch_parameters, slurm_settings

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).parent / "apps" / "submitit_example"


@pytest.fixture(autouse=True)
def hydra_version_base_unset():
    """Hydra's suites expect a process in which no app has set Hydra's version base yet (see
    test_launcher_contract.py)."""
    base = VersionBase.instance()
    saved = base.getbase()
    base.version_base = _UNSPECIFIED_
    yield
    base.version_base = saved


@pytest.mark.parametrize("cls", [SubmititLocalLauncher, SubmititSlurmLauncher])
def test_discovery(cls: type[Launcher]):
    assert cls.__name__ in [plugin.__name__ for plugin in Plugins.instance().discover(Launcher)]


@pytest.mark.parametrize(("launcher_name", "overrides"), [("submitit_local", ["hydra.launcher.timeout_min=2"])])
class TestSubmititLocalLauncher(LauncherTestSuite):
    pass


@pytest.mark.parametrize(
    ("task_launcher_cfg", "extra_flags"),
    [
        (
            {},
            [
                "-m",
                "hydra/hydra_logging=disabled",
                "hydra/job_logging=disabled",
                "hydra/launcher=submitit_local",
                "hydra.launcher.gpus_per_node=0",
                "hydra.launcher.timeout_min=1",
            ],
        )
    ],
)
class TestSubmititLocalLauncherIntegration(IntegrationTestSuite):
    pass


def run_example(script: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-W", "error", str(EXAMPLE / script), "-m", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_example_app_runs_its_jobs_as_submitit_jobs(tmp_path: Path):
    done = run_example(
        "my_app.py", [f"hydra.sweep.dir={tmp_path}/sweep", "hydra/launcher=submitit_local", "task=1,2"], tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for job in (0, 1):
        log = (tmp_path / "sweep" / str(job) / "my_app.log").read_text()
        assert f"executing task {job + 1}, with JobEnvironment(job_id=" in log


def test_a_failing_jobs_remote_cause_and_traceback_reach_the_user(tmp_path: Path):
    done = run_example("failing_app.py", ["hydra/launcher=submitit_local", "task=0"], tmp_path)
    assert done.returncode != 0
    assert "ZeroDivisionError: division by zero" in done.stderr
    assert "in divide" in done.stderr and "return 1 / cfg.task" in done.stderr  # the job's own frames


@pytest.mark.parametrize("python", [None, "/opt/venv/bin/python"])
def test_slurm_python_parameter(tmp_path: Path, python: str | None):
    from sweepwise.sweep.launch.slurm_executor import SlurmExecutor
    from sweepwise.sweep.trial.trial_runner import TrialRunner

    config = OmegaConf.to_container(
        OmegaConf.structured(SubmititSlurmConf(submitit_folder=str(tmp_path), python=python))
    )
    settings = slurm_settings(config)
    executor = SlurmExecutor(TrialRunner.__new__(TrialRunner), settings, tmp_path)._executor(tmp_path, {})
    assert executor.python == (python or sys.executable)
    assert "python" not in sbatch_parameters(settings)


@pytest.mark.parametrize("tasks_per_node", [1, None])
def test_slurm_tasks_per_node_is_optional_with_compatible_default(tasks_per_node: int | None):
    assert SubmititSlurmConf().tasks_per_node == 1
    config = OmegaConf.to_container(OmegaConf.structured(SubmititSlurmConf(tasks_per_node=tasks_per_node)))
    assert sbatch_parameters(slurm_settings(config))["ntasks_per_node"] == 1
