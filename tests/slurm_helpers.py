"""What SLURM's accounting says of a test's jobs, the jobs a trial had, and a sweep started in the background."""

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ACTIVE_STATES = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING")


def accounting(job_ids: Sequence[str], field: str = "State") -> dict[str, str]:
    """`field` of each job, once SLURM has ended them all: a sweep may record a job's last trial while the job's
    processes are still exiting (up to a minute here)."""
    deadline = time.monotonic() + 60
    while True:
        listed = subprocess.run(
            ["sacct", "-n", "-P", "-X", "-j", ",".join(job_ids), "-o", f"JobIDRaw,State,{field}"],
            capture_output=True,
            text=True,
            check=True,
        )
        rows = [line.split("|", 2) for line in listed.stdout.splitlines()]
        if not any(state.startswith(ACTIVE_STATES) for _, state, _ in rows) or time.monotonic() > deadline:
            return {job: value for job, _, value in rows}
        time.sleep(1)


def start(script: Path, args: Sequence[str], cwd: Path) -> subprocess.Popen:
    """`python SCRIPT ARGS` in the background, its output in cwd/orchestrator.log."""
    log = open(cwd / "orchestrator.log", "w")  # noqa: SIM115 (the process writes to it after this returns)
    return subprocess.Popen([sys.executable, str(script), *args], cwd=cwd, stdout=log, stderr=subprocess.STDOUT)


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"waited {seconds} s for {what}")


def job_ids_of(trial_folder: Path) -> list[str]:
    """The SLURM jobs a trial had, from the files submitit keeps in its folder."""
    return sorted(path.name.split("_")[0] for path in (trial_folder / "slurm").glob("*_submitted.pkl"))
