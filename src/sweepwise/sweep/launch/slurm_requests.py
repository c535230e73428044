"""What a sweep's jobs ask of SLURM: the `slurm` launcher's settings, checked; the sbatch parameters and names of a
trial's or a pack's job; and SLURM's own answer to such a request (`sbatch --test-only`) before the first trial."""

import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from hydra_plugins.sweepwise_plugins.config import SlurmLauncherConf
from sweepwise.errors import ConfigError, first_line
from sweepwise.internals.submitit_internals import sbatch_script
from sweepwise.spec.launch import gres_gpus, slurm_launcher
from sweepwise.sweep.trial.trial_runner import TrialJob

# options passed to sbatch under their own names, when set
SBATCH_AS_IS = (
    "cpus_per_task",
    "partition",
    "account",
    "qos",
    "constraint",
    "comment",
    "exclude",
    "gres",
    "cpus_per_gpu",
    "gpus_per_task",
    "mem_per_gpu",
    "mem_per_cpu",
)
# each job's threads match its CPUs unless the user says otherwise (torch would use every core of the node)
THREADS_SETUP = 'export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"'


def warnings_setup() -> list[str]:
    """The sweep's own warning options (`python -W error ...`, `PYTHONWARNINGS`) for its jobs' Python, which
    submitit starts without them: a trial whose code warns must fail or pass on SLURM as it does locally (local
    workers start with the sweep's options). Passed as `PYTHONWARNINGS`, in their order."""
    if not sys.warnoptions:
        return []
    return [f"export PYTHONWARNINGS={shlex.quote(','.join(sys.warnoptions))}"]


def slurm_settings(config: Mapping[str, Any], processes: int = 1) -> SlurmLauncherConf:
    """The `slurm` launcher's fields (its config type says what each means), each checked; errors name the
    `hydra.launcher` key. A trial of `processes` processes per node (`trainer.devices`) runs them as that many
    tasks per node, each with a GPU of its node where the jobs have GPUs (`gpus_per_node` is raised to them; a
    `gres` asking for fewer is an error)."""
    settings = slurm_launcher(config, processes)
    if settings.gres is not None and 0 < gres_gpus(settings.gres) < processes:
        raise ConfigError(
            "hydra.launcher.gres", settings.gres, f"gives each node fewer GPUs than trainer.devices={processes}"
        )
    gpus = max(settings.gpus_per_node, processes) if settings.gpus_per_node else settings.gpus_per_node
    return replace(settings, tasks_per_node=processes, gpus_per_node=gpus)


def node_gpus(settings: SlurmLauncherConf) -> int:
    """The GPUs a job has on each node: `gpus_per_node`, else what `gres` asks for."""
    if settings.gpus_per_node is not None:
        return settings.gpus_per_node
    return gres_gpus(settings.gres) if settings.gres is not None else 0


def trials_per_job(settings: SlurmLauncherConf) -> int:
    """How many trials a job runs at once: one, or packed, `trials_per_gpu` on each of its GPUs (or its CPUs)."""
    if settings.trials_per_gpu == 1:
        return 1
    return settings.trials_per_gpu * max(node_gpus(settings), 1)


def sbatch_parameters(settings: SlurmLauncherConf, trials: int = 1) -> dict[str, Any]:
    """The parameters of `submitit.SlurmExecutor.update_parameters`, for a job of `trials` trials (a pack's
    trials are one task each, and `mem_gb` is each trial's); an unset option is left to the cluster."""
    parameters: dict[str, Any] = {
        "job_name": settings.name,
        "time": settings.timeout_min,
        "nodes": settings.nodes,
        "ntasks_per_node": (settings.tasks_per_node or 1) * trials,
        "signal_delay_s": settings.signal_delay_s,
        "array_parallelism": settings.array_parallelism,
        "setup": [THREADS_SETUP, *warnings_setup(), *(settings.setup or [])],
        "additional_parameters": dict(settings.additional_parameters),
        "stderr_to_stdout": settings.stderr_to_stdout,
        "use_srun": settings.use_srun,
    }
    if settings.gpus_per_node:
        parameters["gpus_per_node"] = settings.gpus_per_node
    if settings.mem_gb is not None:
        parameters["mem"] = f"{settings.mem_gb * trials}GB"
    if settings.srun_args is not None:
        parameters["srun_args"] = list(settings.srun_args)
    for key in SBATCH_AS_IS:
        if getattr(settings, key) is not None:
            parameters[key] = getattr(settings, key)
    return parameters


def job_name(settings: SlurmLauncherConf, job: TrialJob) -> str:
    """What `squeue` and `sacct` show for a job: its study and trial (`random_lr_wd-trial-7`), or the launcher's
    name and the job's number in a plain multirun."""
    if job.context is not None:
        return f"{job.context.study_name}-trial-{job.context.trial_number}"
    return f"{settings.name}-job-{job.job_num}"


def pack_name(settings: SlurmLauncherConf, jobs: Sequence[TrialJob]) -> str:
    """What `squeue` and `sacct` show for a pack's job: its study and trials (`random_lr_wd-trials-4+5`)."""
    numbers = "+".join(str(job.context.trial_number if job.context else job.job_num) for job in jobs)
    first = jobs[0].context
    return f"{first.study_name}-trials-{numbers}" if first is not None else f"{settings.name}-jobs-{numbers}"


def check_cluster(settings: SlurmLauncherConf) -> None:
    """Ask SLURM whether it would accept these jobs (`sbatch --test-only`), before any trial is created."""
    if shutil.which("sbatch") is None:
        raise ConfigError("hydra/launcher", "slurm", "sbatch is not on PATH: run the sweep where SLURM's commands work")
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "check.sh"
        parameters = sbatch_parameters(settings, trials_per_job(settings))
        script.write_text(sbatch_script("true", Path(folder), parameters))
        checked = subprocess.run(["sbatch", "--test-only", str(script)], capture_output=True, text=True)
    if checked.returncode != 0:
        message = first_line(checked.stderr.replace("sbatch: error:", "").strip() or "rejected")
        if "partition" in message.lower() and settings.partition is not None:
            raise ConfigError(
                "hydra.launcher.partition", settings.partition, f"SLURM would not run the jobs: {message}"
            )
        raise ConfigError("hydra.launcher", "slurm", f"SLURM would not run jobs of {_request(parameters)}: {message}")


def _request(parameters: Mapping[str, Any]) -> str:
    """What a job asks of SLURM, in the words of the settings that decide it (`trainer.devices` sets the tasks and
    raises the GPUs), for an error that says which to change."""
    asked = [
        f"nodes={parameters['nodes']}",
        f"tasks_per_node={parameters['ntasks_per_node']} (trainer.devices x trials_per_gpu)",
        f"cpus_per_task={parameters.get('cpus_per_task', '(default)')}",
        f"gpus_per_node={parameters.get('gpus_per_node', 0)}",
    ]
    if "gres" in parameters:
        asked.append(f"gres={parameters['gres']}")
    if "mem" in parameters:
        asked.append(f"mem={parameters['mem']}")
    return ", ".join(asked) + f" on partition {parameters.get('partition', '(default)')}"
