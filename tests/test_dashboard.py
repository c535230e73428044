"""`make dashboard` serves a sweep's journal-file study with optuna-dashboard; sweepwise's servers bind 127.0.0.1
unless the user names another host, and then warn."""

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import REPO
from mlflow_server import free_port
from sweep_helpers import run_toy

pytestmark = pytest.mark.slow


def test_dashboard_serves_the_sweeps_study(tmp_path: Path):
    done = run_toy(["hydra.sweeper.n_trials=3"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    port = free_port()
    dashboard = Path(sys.executable).parent / "optuna-dashboard"
    server = subprocess.Popen(
        [str(dashboard), "studies/toy.journal", "--host", "127.0.0.1", "--port", str(port), "--quiet"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as response:
                    studies = json.load(response)["study_summaries"]
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "optuna-dashboard did not start"
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    (study,) = studies
    assert study["study_name"] == "toy"


def server_commands(target: str, *variables: str) -> tuple[str, str]:
    """(the host check, the server command) that `make TARGET` runs, as make prints them without running."""
    printed = subprocess.run(["make", "-n", target, *variables], cwd=REPO, capture_output=True, text=True)
    lines = printed.stdout.splitlines()
    check = next(line for line in lines if line.startswith("[ "))
    server = next(line for line in lines if "--host" in line)
    return check, server


@pytest.mark.parametrize("target", ["dashboard", "mlflow-server", "ui"])
def test_servers_bind_localhost_and_warn_for_another_host(target: str):
    check, server = server_commands(target, "STUDY=toy")
    assert "--host 127.0.0.1 " in server
    assert subprocess.run(["bash", "-c", check], capture_output=True, text=True).stderr == ""
    check, server = server_commands(target, "STUDY=toy", "HOST=0.0.0.0")
    assert "--host 0.0.0.0 " in server
    warned = subprocess.run(["bash", "-c", check], capture_output=True, text=True).stderr
    assert warned.startswith("warning: HOST=0.0.0.0: anyone who can reach port")
