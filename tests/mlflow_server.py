"""A real `mlflow server` for tests: on 127.0.0.1 with the lean settings, stoppable and restartable on the same
port and store (to take the tracking server away in the middle of a sweep)."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MlflowServer:
    """`mlflow server` with one worker and job execution off, its store and artifacts in `folder`."""

    def __init__(self, folder: Path, backend: str | None = None) -> None:
        self.folder, self.port = folder, free_port()
        self.backend = backend or f"sqlite:///{folder / 'server.db'}"
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        command = [
            str(Path(sys.executable).parent / "mlflow"), "server",
            "--backend-store-uri", self.backend,
            "--artifacts-destination", str(self.folder / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
        ]  # fmt: skip
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with open(self.folder / "server.log", "a") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((self.folder / "server.log").read_text()[-3000:])
            time.sleep(0.3)

    def answers(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.url}/health", timeout=2)
            return True
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server and every process it started (its web workers), and wait until the port is closed."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        while self.answers():
            time.sleep(0.1)
