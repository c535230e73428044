"""What sweepwise reads of submitit beyond its documented API: the exit code of a local job's requeue, and the
sbatch script submitit would submit, through submitit's private `_make_sbatch_string`. Guarded by
`tests/test_submitit_internals.py`, which submits through submitit's public `SlurmExecutor` (to an `sbatch` that
keeps the script) and compares every line but the command.

A sweep on SLURM asks the cluster first whether it would run its jobs (`sbatch --test-only`), with the very
directives its jobs will carry. submitit writes a script only when it submits one, and has no public way to build
it without submitting; a submission would queue a job, and `--test-only` through `submit` leaves submitit unable to
read the job id it expects.
"""

import os
from pathlib import Path
from typing import Any

from submitit.slurm.slurm import _make_sbatch_string


def sbatch_script(command: str, folder: Path, parameters: dict[str, Any]) -> str:
    """The script of a job running `command` with these `SlurmExecutor.update_parameters` parameters, its submitit
    files in `folder`."""
    return _make_sbatch_string(command=command, folder=folder, **parameters)


def requeue_exit_code() -> int:
    """The exit code by which a job's process that submitit requeued says so: a local job's controller runs the
    job again only on its own code (a SLURM job is requeued by `scontrol` before its process exits)."""
    if os.environ.get("SUBMITIT_EXECUTOR") == "local":
        from submitit.local.local import LOCAL_REQUEUE_RETURN_CODE

        return LOCAL_REQUEUE_RETURN_CODE
    return -1
