"""`sweepwise.internals.submitit_internals` against submitit's public path: the script a sweep hands to
`sbatch --test-only` is the script submitit's `SlurmExecutor` submits for the same parameters, line for line, but
for the command. The executor submits for real, to an `sbatch` on PATH that keeps the script it is given."""

import shlex
import sys
from pathlib import Path

import pytest
import submitit

from hydra_plugins.sweepwise_plugins.config import SlurmLauncherConf
from sweepwise.internals.submitit_internals import sbatch_script
from sweepwise.sweep.launch.slurm_requests import sbatch_parameters, trials_per_job

SBATCH = """#!/bin/sh
cp "$1" "{captured}"
echo "Submitted batch job 4242"
"""

SETTINGS = {
    "defaults": SlurmLauncherConf(name="sweep"),
    "no-gpu": SlurmLauncherConf(name="cpu", gpus_per_node=0, cpus_per_task=2, timeout_min=5, signal_delay_s=30),
    "everything": SlurmLauncherConf(
        name="full",
        partition="gpu",
        account="lab",
        qos="high",
        constraint="a100",
        mem_gb=16,
        nodes=2,
        tasks_per_node=4,
        gpus_per_node=4,
        setup=["module load cuda", "export X='a b'"],
        additional_parameters={"exclusive": True, "comment": "sweep"},
    ),
    "packed": SlurmLauncherConf(name="pack", trials_per_gpu=3, gpus_per_node=2, mem_gb=4),
}


@pytest.fixture
def captured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the `sbatch` on PATH copies the script it is given (and `srun`, which submitit looks for, is there)."""
    bin_dir, script = tmp_path / "bin", tmp_path / "captured.sh"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(SBATCH.format(captured=script))
    (bin_dir / "srun").write_text("#!/bin/sh\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    return script


@pytest.mark.parametrize("settings", list(SETTINGS.values()), ids=list(SETTINGS))
def test_sbatch_script_is_the_one_submitit_submits(captured: Path, tmp_path: Path, settings: SlurmLauncherConf):
    folder = tmp_path / "jobs"
    parameters = sbatch_parameters(settings, trials_per_job(settings))
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=settings.max_num_timeout)
    executor.update_parameters(**parameters)
    job = executor.submit(print, "trial")
    assert job.job_id == "4242"
    command = shlex.join([sys.executable, "-u", "-m", "submitit.core._submit", str(folder)])
    theirs = captured.read_text()
    assert command in theirs and "#SBATCH --job-name=" in theirs
    assert sbatch_script("true", folder, parameters) == theirs.replace(command, "true")
