"""`python train.py ARGS` many times without paying its imports each time.

Every command first imports torch, Hydra, MLflow and Optuna (about 3 s on two cores): for a refusal that is most
of its time, and hundreds of commands run in the suite. `WarmTrain` starts one server process that imports them
once; each command then runs in a process forked from it, with its own working folder, environment, argv, exit
code, stdout and stderr, its threads joined and its atexit handlers run at its end. The command is still train.py
run as `__main__` in a process of its own: only the imports are shared, as they would be by a warm page cache.

Run as a script, this file is that server: it reads one JSON request per line on stdin and answers with one line
holding the command's exit code.
"""

import atexit
import importlib
import json
import os
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from helpers import REPO, TRAIN_PY, script_env

REQUEST_POLL_S = 0.05
# what train.py's main imports, and a sweep's process, its end-of-sweep plots and its best model's export included
WARMED = (
    "mlflow",
    "torch",
    "optuna",
    "sweepwise.app",
    "sweepwise.recipe.preflight",
    "sweepwise.sweep.driver.sweeper",
    "sweepwise.sweep.driver.study_plots",
    "sweepwise.sweep.driver.best_model",
    "torch.export._trace",
)


class WarmTrain:
    """A server process with train.py's imports done; `run` forks one command from it."""

    def __init__(self) -> None:
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
        self.server = subprocess.Popen([sys.executable, __file__], env=script_env(), **pipes)
        self.outputs = Path(tempfile.mkdtemp(prefix="warm-train-"))
        atexit.register(shutil.rmtree, self.outputs, True)  # the server ends with this process (its stdin closes)

    def run(self, args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
        """What `subprocess.run([python, train.py, *args], cwd=cwd, timeout=timeout)` returns, from a forked
        process in this environment (raising `TimeoutExpired` as it does)."""
        assert self.server.stdin and self.server.stdout
        out, err = self.outputs / "stdout", self.outputs / "stderr"
        request = {"args": args, "cwd": str(cwd), "out": str(out), "err": str(err), "timeout": timeout}
        request["env"] = script_env()
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        answer = self.server.stdout.readline()
        if not answer:
            raise RuntimeError(f"the warm train.py server ended (exit {self.server.wait()})")
        returncode = json.loads(answer)["returncode"]
        stdout, stderr = out.read_text(), err.read_text()
        command = [sys.executable, str(TRAIN_PY), *args]
        if returncode is None:
            raise subprocess.TimeoutExpired(command, timeout, stdout, stderr)
        return subprocess.CompletedProcess(command, returncode, stdout, stderr)


def run_forked(request: dict) -> int | None:
    """The exit code of train.py run as `__main__` in a child process with the request's folder, argv and files
    (None: it ran past its timeout, and was killed)."""
    pid = os.fork()
    if pid == 0:
        os._exit(run_in_child(request))
    deadline = time.monotonic() + request["timeout"]
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(REQUEST_POLL_S)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def run_in_child(request: dict) -> int:
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    stdin = os.open(os.devnull, os.O_RDONLY)  # the requests are the server's, not the command's
    os.dup2(stdin, 0)
    os.close(stdin)
    redirect(sys.stdout, request["out"])
    redirect(sys.stderr, request["err"])
    sys.argv = [str(TRAIN_PY), *request["args"]]
    code = 0
    try:
        runpy.run_path(str(TRAIN_PY), run_name="__main__")
    except SystemExit as stop:
        code = exit_code(stop)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    threading._shutdown()  # as the interpreter ends: its other threads joined first, then the atexit handlers
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def exit_code(stop: SystemExit) -> int:
    """The exit status the interpreter gives a SystemExit: its number, or 1 after printing its message."""
    if stop.code is None or isinstance(stop.code, int):
        return stop.code or 0
    print(stop.code, file=sys.stderr)
    return 1


def redirect(stream: IO[str], path: str) -> None:
    stream.flush()
    file = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(file, stream.fileno())
    os.close(file)


def serve() -> None:
    sys.path.insert(0, str(REPO))
    runpy.run_path(str(TRAIN_PY), run_name="warm")  # train.py's own imports
    for module in WARMED:
        importlib.import_module(module)

    for line in sys.stdin:
        answer = {"returncode": run_forked(json.loads(line))}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
