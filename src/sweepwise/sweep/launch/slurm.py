"""Trials as SLURM jobs, submitted through submitit, one job per trial (no arrays, so no batch barrier).

A job's result is its result file, which the orchestrator checks for every quarter second (a `stat` per job in
flight); the cluster is asked with one `sacct` call every `poll_interval_s` for jobs that ended without one
(cancelled, out of memory, node failure, time limit reached too often), which are reported as died with
SLURM's state, so the sweep never waits for a job that no longer exists. Each trial's submitit files (its
pickles and SLURM's stdout/stderr) sit in `<trial folder>/slurm`.
"""

import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import submitit
from submitit.slurm.slurm import _make_sbatch_string

from hydra_plugins.sweepwise_plugins.config import SlurmLauncherConf
from sweepwise.errors import ConfigError, first_line
from sweepwise.sweep.launch.executor import Died
from sweepwise.sweep.launch.slurm_requeue import RequeueableTrial
from sweepwise.sweep.outcome import TrialOutcome, TrialStatus
from sweepwise.sweep.trial.runner import TrialJob, TrialRunner

RESULT_POLL_S = 0.25
# states in which a job will not run again; PREEMPTED jobs are usually requeued, so that one needs a second look
FINAL_STATES = (
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "REVOKED",
    "TIMEOUT",
)
# each job's threads match its CPUs unless the user says otherwise (torch would use every core of the node)
THREADS_SETUP = 'export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"'


def slurm_settings(config: Mapping[str, Any], processes: int = 1) -> SlurmLauncherConf:
    """The `slurm` launcher's fields (its config type says what each means), each checked; errors name the
    `hydra.launcher` key. A trial of `processes` processes per node (`trainer.devices`) runs them as that many
    tasks per node, each with a GPU of its node where the jobs have GPUs."""
    settings = SlurmLauncherConf(**config)
    minimums = {
        "gpus_per_node": 0,
        "cpus_per_task": 1,
        "timeout_min": 1,
        "nodes": 1,
        "tasks_per_node": 1,
        "array_parallelism": 1,
        "max_num_timeout": 0,
        "signal_delay_s": 0,
    }
    for key, minimum in minimums.items():
        if getattr(settings, key) < minimum:
            raise ConfigError(f"hydra.launcher.{key}", getattr(settings, key), f"must be at least {minimum}")
    if settings.tasks_per_node > 1:
        raise ConfigError(
            "hydra.launcher.tasks_per_node",
            settings.tasks_per_node,
            "a trial's processes per node are trainer.devices (set it instead: the tasks follow it)",
        )
    if settings.mem_gb is not None and settings.mem_gb <= 0:
        raise ConfigError("hydra.launcher.mem_gb", settings.mem_gb, "must be positive (or null for the default)")
    if settings.poll_interval_s <= 0:
        raise ConfigError("hydra.launcher.poll_interval_s", settings.poll_interval_s, "must be positive")
    if settings.signal_delay_s >= settings.timeout_min * 60:
        raise ConfigError(
            "hydra.launcher.signal_delay_s",
            settings.signal_delay_s,
            f"must be shorter than the time limit (timeout_min={settings.timeout_min} minutes), or jobs are "
            "signalled to checkpoint as soon as they start",
        )
    gpus = max(settings.gpus_per_node, processes) if settings.gpus_per_node else 0
    return replace(settings, tasks_per_node=processes, gpus_per_node=gpus)


def sbatch_parameters(settings: SlurmLauncherConf) -> dict[str, Any]:
    """The parameters of `submitit.SlurmExecutor.update_parameters`."""
    parameters: dict[str, Any] = {
        "job_name": settings.name,
        "time": settings.timeout_min,
        "nodes": settings.nodes,
        "ntasks_per_node": settings.tasks_per_node,
        "cpus_per_task": settings.cpus_per_task,
        "signal_delay_s": settings.signal_delay_s,
        "array_parallelism": settings.array_parallelism,
        "setup": [THREADS_SETUP, *settings.setup],
        "additional_parameters": dict(settings.additional_parameters),
    }
    if settings.gpus_per_node:
        parameters["gpus_per_node"] = settings.gpus_per_node
    if settings.mem_gb is not None:
        parameters["mem"] = f"{settings.mem_gb}GB"
    for key in ("partition", "account", "qos", "constraint"):
        if getattr(settings, key) is not None:
            parameters[key] = getattr(settings, key)
    return parameters


def job_name(settings: SlurmLauncherConf, job: TrialJob) -> str:
    """What `squeue` and `sacct` show for a job: its study and trial (`random_lr_wd-trial-7`), or the launcher's
    name and the job's number in a plain multirun."""
    if job.context is not None:
        return f"{job.context.study_name}-trial-{job.context.trial_number}"
    return f"{settings.name}-job-{job.job_num}"


@dataclass
class _Submitted:
    job: submitit.Job[TrialOutcome | None]  # task 0's: the other tasks of a trial return None
    folder: Path
    final_state: str | None = None  # a final state sacct gave while the result file was still missing


def check_cluster(settings: SlurmLauncherConf) -> None:
    """Ask SLURM whether it would accept these jobs (`sbatch --test-only`), before any trial is created."""
    if shutil.which("sbatch") is None:
        raise ConfigError("hydra/launcher", "slurm", "sbatch is not on PATH: run the sweep where SLURM's commands work")
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "check.sh"
        script.write_text(_make_sbatch_string(command="true", folder=folder, **sbatch_parameters(settings)))
        checked = subprocess.run(["sbatch", "--test-only", str(script)], capture_output=True, text=True)
    if checked.returncode != 0:
        message = first_line(checked.stderr.replace("sbatch: error:", "").strip() or "rejected")
        raise ConfigError("hydra.launcher", settings.partition or "slurm", f"SLURM would not run the jobs: {message}")


class SlurmExecutor:
    """Runs each submitted trial job as its own SLURM job."""

    job_kind = "SLURM job"

    def __init__(self, runner: TrialRunner, settings: SlurmLauncherConf, default_folder: Path) -> None:
        self.runner, self.settings, self.default_folder = runner, settings, default_folder
        self.submitted: dict[int, _Submitted] = {}
        self.folders: dict[int, Path] = {}
        self.next_poll = 0.0

    def _folder(self, log_file: str | None, number: int) -> Path:
        """Where a job's submitit files go: beside its log in the trial's folder, else a folder of its own."""
        return Path(log_file).parent / "slurm" if log_file else self.default_folder / str(number)

    def submit(self, key: int, job: TrialJob) -> str:
        folder = self._folder(job.log_file, job.job_num)
        executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=self.settings.max_num_timeout)
        executor.update_parameters(**{**sbatch_parameters(self.settings), "job_name": job_name(self.settings, job)})
        submitted = executor.submit(RequeueableTrial(self.runner), job)
        if submitted.num_tasks > 1:
            submitted = submitted.task(0)  # the trial's rank 0 returns its outcome; the other tasks return nothing
        self.submitted[key] = _Submitted(submitted, folder)
        self.folders[key] = folder
        return submitted.job_id

    def adopt(self, key: int, job_id: str, log_file: str | None) -> bool:
        """Watch a job an earlier orchestrator submitted, when SLURM still has it queued or running or it left its
        result file (submitit keeps all that is needed in the job's folder)."""
        folder = self._folder(log_file, key)
        job: submitit.Job[TrialOutcome | None] = submitit.SlurmJob(folder=folder, job_id=job_id)
        state = cluster_states([job_id]).get(job_id, "")
        if not job.paths.result_pickle.exists() and (not state or state.startswith(FINAL_STATES)):
            return False
        self.submitted[key] = _Submitted(job, folder)
        self.folders[key] = folder
        return True

    def wait(self, timeout: float | None) -> list[tuple[int, TrialOutcome | Died]]:
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            ended = self._ended()
            if ended or not self.submitted or time.monotonic() >= deadline:
                return ended
            time.sleep(max(0.0, min(RESULT_POLL_S, deadline - time.monotonic())))

    def _ended(self) -> list[tuple[int, TrialOutcome | Died]]:
        ended: list[tuple[int, TrialOutcome | Died]] = []
        for key, entry in list(self.submitted.items()):
            if entry.job.paths.result_pickle.exists():
                ended.append((key, self._outcome(entry.job)))
                del self.submitted[key]
        if self.submitted and time.monotonic() >= self.next_poll:
            self.next_poll = time.monotonic() + self.settings.poll_interval_s
            states = cluster_states([entry.job.job_id for entry in self.submitted.values()])
            for key, entry in list(self.submitted.items()):
                state = states.get(entry.job.job_id, "")
                if not state.startswith(FINAL_STATES):
                    entry.final_state = None
                elif entry.final_state is None:
                    entry.final_state = state  # look again at the next poll: the result file may be on its way
                elif not entry.job.paths.result_pickle.exists():
                    ended.append((key, Died(f"SLURM job {entry.job.job_id} ended {state} without a result")))
                    del self.submitted[key]
        return ended

    @staticmethod
    def _outcome(job: submitit.Job[TrialOutcome | None]) -> TrialOutcome | Died:
        try:
            outcome = job.result()
        except Exception as error:  # submitit's own failure (the trial's errors are in its TrialOutcome)
            lines = [line for line in str(error).splitlines() if line.strip()]
            return TrialOutcome(TrialStatus.FAIL, reason=f"SLURM job {job.job_id}: {lines[-1] if lines else error}")
        return outcome or TrialOutcome(TrialStatus.FAIL, reason=f"SLURM job {job.job_id}: its task 0 ran no trial")

    def kill(self, key: int) -> None:
        if key in self.submitted:
            self.submitted[key].job.cancel(check=False)

    def cancel_stale(self, job_id: str) -> None:
        subprocess.run(["scancel", job_id], capture_output=True, check=False)

    def log_files(self, key: int) -> list[Path]:
        """SLURM's stdout and stderr of every job the trial had (a retry is a new job)."""
        return sorted(self.folders[key].glob("*_log.*")) if key in self.folders else []

    def shutdown(self) -> None:
        for entry in self.submitted.values():
            entry.job.cancel(check=False)
        self.submitted.clear()


def cluster_states(job_ids: list[str]) -> dict[str, str]:
    """{job id: state} from `sacct` (e.g. "RUNNING", "CANCELLED by 0"); without accounting, from `squeue`, where
    a job that is missing has ended."""
    listed = ",".join(job_ids)
    accounted = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-j", listed, "-o", "JobIDRaw,State"], capture_output=True, text=True
    )
    if accounted.returncode == 0:
        rows = (line.split("|", 1) for line in accounted.stdout.splitlines() if "|" in line)
        return dict(rows)
    queued = subprocess.run(["squeue", "-h", "-j", listed, "-o", "%i|%T"], capture_output=True, text=True)
    if queued.returncode != 0 and "Invalid job id" not in queued.stderr:
        return {}  # the controller did not answer: no job is known to have ended
    states = {job_id: "COMPLETED (gone from the queue; no accounting to say how)" for job_id in job_ids}
    states.update(dict(line.split("|", 1) for line in queued.stdout.splitlines() if "|" in line))
    return states
