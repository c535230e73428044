"""What SLURM's accounting says of a test's jobs."""

import subprocess
import time
from collections.abc import Sequence

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
