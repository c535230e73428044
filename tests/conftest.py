"""Shared fixtures: the SLURM test cluster, a real MLflow server, fresh PostgreSQL databases; and the reliability
report, written when the session ends. What tests share besides fixtures is in helpers.py."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import reliability
from helpers import DEFAULT_SLURM_CONF, service_missing
from mlflow_server import MlflowServer
from postgres_server import Databases, answers, server_url

# fixtures of a service there is one of: under pytest-xdist (`make test`), the tests using one run one after another
# on one worker (`--dist loadgroup`), as the cluster's slots and the timings its tests assert are not shared
SHARED_SERVICES = {"slurm_conf": "slurm", "postgres": "postgres"}


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets its share of the cores, for the torch in its own process and in the
    commands its tests run: two workers each running 2-thread torch on 2 cores fight for them, and an in-process
    preflight then takes twice as long (34 s against 17 s beside one busy core), far more with the trials' own
    processes beside. A thread count the shell set is kept."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        share = str(max(1, (os.cpu_count() or 1) // workers))
        os.environ.update(OMP_NUM_THREADS=share, MKL_NUM_THREADS=share)
        torch = sys.modules.get("torch")
        if torch is not None:  # imported already: it read the variable when it started
            torch.set_num_threads(int(share))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group each test by the one-of-a-kind services its fixtures use (a test that asks for a fixture while it runs
    names its group itself, with `pytest.mark.xdist_group`)."""
    for item in items:
        for fixture, group in SHARED_SERVICES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True)
def no_tracking_uri_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs log where each test says: an MLFLOW_TRACKING_URI in the shell that runs the tests would send every run
    that names no store to it (a test about that variable sets it itself)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="session")
def slurm_conf() -> Path:
    """The SLURM cluster's config file, once `sinfo` has shown a node that can take jobs."""
    conf = Path(os.environ.get("SLURM_CONF", DEFAULT_SLURM_CONF))
    if not conf.is_file():
        service_missing(f"no SLURM cluster: {conf} is missing (start one with `make slurm-up`)")
    try:
        nodes = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], env={**os.environ, "SLURM_CONF": str(conf)}, capture_output=True, text=True
        )
    except FileNotFoundError:
        service_missing("no SLURM cluster: sinfo is not installed (start one with `make slurm-up`)")
    if nodes.returncode != 0 or not {"idle", "mixed", "allocated"} & set(nodes.stdout.split()):
        service_missing(f"the SLURM cluster of {conf} does not answer: {nodes.stderr.strip() or nodes.stdout}")
    return conf


@pytest.fixture
def slurm(slurm_conf: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The SLURM cluster, with SLURM_CONF exported to the commands a test runs."""
    monkeypatch.setenv("SLURM_CONF", str(slurm_conf))
    return slurm_conf


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[MlflowServer]:
    """A real `mlflow server` on 127.0.0.1 with its store in `tmp_path`, stopped after the test."""
    server = MlflowServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres() -> Iterator[Databases]:
    """Fresh study and MLflow databases on the local PostgreSQL server (`make db-up`), dropped after the test."""
    url = server_url()
    if url is None:
        service_missing("no PostgreSQL server: start one with `make db-up` (or set SWEEPWISE_POSTGRES_URL)")
    assert url is not None
    if (why := answers(url)) is not None:
        service_missing(f"the PostgreSQL server does not answer: {why} (start one with `make db-up`)")
    databases = Databases.create(url)
    try:
        yield databases
    finally:
        databases.drop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the reliability report when asked to (see tests/reliability.py)."""
    path = reliability.report_path()
    if path is not None and reliability.ROWS:
        reliability.write_report(path)
