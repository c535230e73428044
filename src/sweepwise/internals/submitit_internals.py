"""The sbatch script submitit would submit, through submitit's private `_make_sbatch_string`. Guarded by
`tests/test_submitit_internals.py`, which submits through submitit's public `SlurmExecutor` (to an `sbatch` that
keeps the script) and compares every line but the command.

A sweep on SLURM asks the cluster first whether it would run its jobs (`sbatch --test-only`), with the very
directives its jobs will carry. submitit writes a script only when it submits one, and has no public way to build
it without submitting; a submission would queue a job, and `--test-only` through `submit` leaves submitit unable to
read the job id it expects.
"""

from pathlib import Path
from typing import Any

from submitit.slurm.slurm import _make_sbatch_string


def sbatch_script(command: str, folder: Path, parameters: dict[str, Any]) -> str:
    """The script of a job running `command` with these `SlurmExecutor.update_parameters` parameters, its submitit
    files in `folder`."""
    return _make_sbatch_string(command=command, folder=folder, **parameters)
