"""Hydra's own launcher conformance suites, shipped with hydra-core, run against the `local` launcher: what any
in-process caller of `Hydra.multirun` (and hydra's plugin tests) expects of a launcher's jobs and `JobReturn`s."""

import pytest
from hydra.test_utils.launcher_common_tests import (
    BatchedSweeperTestSuite,
    IntegrationTestSuite,
    LauncherTestSuite,
)
from hydra.version import _UNSPECIFIED_, VersionBase

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def hydra_version_base_unset():
    """Hydra's suites expect a process in which no app has set Hydra's version base yet (so jobs change into their
    folders, as before 1.2); earlier tests here compose configs with version_base="1.3". Each suite test runs
    with it unset, as in a fresh process, and it is put back afterwards."""
    base = VersionBase.instance()
    saved = base.getbase()
    base.version_base = _UNSPECIFIED_
    yield
    base.version_base = saved


@pytest.mark.parametrize(("launcher_name", "overrides"), [("local", [])])
class TestLocalLauncher(LauncherTestSuite):
    pass


@pytest.mark.parametrize(("launcher_name", "overrides"), [("local", ["hydra.sweeper.max_batch_size=2"])])
class TestLocalLauncherInBatches(BatchedSweeperTestSuite):
    pass


@pytest.mark.parametrize(
    ("task_launcher_cfg", "extra_flags"),
    [({"defaults": [{"override hydra/launcher": "local"}]}, ["-m"])],
)
class TestLocalLauncherIntegration(IntegrationTestSuite):
    pass


SLURM = ["hydra.launcher.cpus_per_task=1", "hydra.launcher.gpus_per_node=0", "hydra.launcher.poll_interval_s=2"]


@pytest.mark.usefixtures("slurm")
@pytest.mark.parametrize(("launcher_name", "overrides"), [("slurm", SLURM)])
class TestSlurmLauncher(LauncherTestSuite):
    pass


@pytest.mark.usefixtures("slurm")
@pytest.mark.parametrize(
    ("task_launcher_cfg", "extra_flags"),
    [({"defaults": [{"override hydra/launcher": "slurm"}]}, ["-m", *SLURM])],
)
class TestSlurmLauncherIntegration(IntegrationTestSuite):
    pass
