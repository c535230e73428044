"""Trials as SLURM jobs, submitted through submitit, one job per trial (no arrays, so no batch barrier), or with
`trials_per_gpu` above 1, packs of trials in one job each (`slurm_packs`).

A job's result is its result file, which the orchestrator checks for every quarter second (a `stat` per job in
flight); the cluster is asked with one `sacct` call every `poll_interval_s` for jobs that ended without one
(cancelled, out of memory, node failure, time limit reached too often), which are reported as died with
SLURM's state, so the sweep never waits for a job that no longer exists. Each trial's submitit files (its
pickles and SLURM's stdout/stderr) sit in `<trial folder>/slurm`; those of packs, in `<sweep folder>/slurm/packs`.

A pack holds its slots until its last trial ends: the trials of a pack start together, so the next pack can
fill a job again, rather than one trial per job as slots free one by one.
"""

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit

from hydra_plugins.sweepwise_plugins.config import SlurmLauncherConf
from sweepwise.sweep.launch.executor import StartedJob
from sweepwise.sweep.launch.slurm_packs import PackedTrials, outcome_path, pack_job_id, read_outcome, split_pack_job_id
from sweepwise.sweep.launch.slurm_requests import job_name, pack_name, sbatch_parameters, trials_per_job
from sweepwise.sweep.launch.slurm_requeue import RequeueableTrial
from sweepwise.sweep.outcome import Died, TrialOutcome, TrialStatus
from sweepwise.sweep.trial.trial_runner import TrialJob, TrialRunner

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


@dataclass
class _Submitted:
    job: submitit.Job[Any]  # the trial's: task 0's for a trial of several ranks (the others return None)
    outcome: Path | None = None  # a packed trial's outcome file (else the job's result is the outcome)
    final_state: str | None = None  # a final state sacct gave while the result file was still missing

    @property
    def ended(self) -> bool:
        return (self.outcome or self.job.paths.result_pickle).exists()


class SlurmExecutor:
    """Runs each submitted trial job as its own SLURM job, or in a pack of trials sharing one."""

    job_kind = "SLURM job"

    def __init__(self, runner: TrialRunner, settings: SlurmLauncherConf, default_folder: Path) -> None:
        self.runner, self.settings, self.default_folder = runner, settings, default_folder
        self.pack_size = trials_per_job(settings)
        self.submitted: dict[int, _Submitted] = {}
        self.logs: dict[int, list[tuple[Path, str]]] = {}  # each trial's SLURM output files: (folder, glob)
        self.next_poll = 0.0
        self.waiting: list[tuple[int, TrialJob]] = []  # trials for the next pack
        self.started: list[StartedJob] = []  # packs submitted since `dispatch` last handed them over
        self.packs: dict[str, tuple[int, set[int]]] = {}  # pack job id: (its slots, its trials not yet ended)

    @property
    def packs_folder(self) -> Path:
        return Path(self.settings.submitit_folder) if self.settings.submitit_folder else self.default_folder / "packs"

    @property
    def held(self) -> int:
        alone = sum(entry.outcome is None for entry in self.submitted.values())
        return alone + len(self.waiting) + sum(slots for slots, _ in self.packs.values())

    def _folder(self, log_file: str | None, number: int) -> Path:
        """Where a job's submitit files go: `submitit_folder` (%j: the job id) when set, else beside its log in
        the trial's folder, else a folder of its own."""
        if self.settings.submitit_folder:
            return Path(self.settings.submitit_folder)
        return Path(log_file).parent / "slurm" if log_file else self.default_folder / str(number)

    def _executor(self, folder: Path, parameters: dict[str, Any]) -> submitit.SlurmExecutor:
        executor = submitit.SlurmExecutor(
            folder=folder, max_num_timeout=self.settings.max_num_timeout, python=self.settings.python
        )
        executor.update_parameters(**parameters)
        return executor

    def submit(self, key: int, job: TrialJob) -> str | None:
        if self.pack_size > 1:
            self.waiting.append((key, job))
            if len(self.waiting) == self.pack_size:
                self._submit_pack()
            return None
        parameters = {**sbatch_parameters(self.settings), "job_name": job_name(self.settings, job)}
        executor = self._executor(self._folder(job.log_file, job.job_num), parameters)
        submitted = executor.submit(RequeueableTrial(self.runner), job)
        if submitted.num_tasks > 1:
            submitted = submitted.task(0)  # the trial's rank 0 returns its outcome; the other tasks return nothing
        self._watch(key, _Submitted(submitted))
        return submitted.job_id

    def dispatch(self) -> list[StartedJob]:
        """Start the pack of the trials submitted so far, however few; the packs started since the last call, each
        trial's id naming its job and task (`1234_1`: task 1 of job 1234)."""
        if self.waiting:
            self._submit_pack()
        started, self.started = self.started, []
        return started

    def _submit_pack(self) -> None:
        keys, jobs = [key for key, _ in self.waiting], tuple(job for _, job in self.waiting)
        self.waiting = []
        parameters = {**sbatch_parameters(self.settings, len(jobs)), "job_name": pack_name(self.settings, jobs)}
        executor = self._executor(self.packs_folder, parameters)
        submitted = executor.submit(PackedTrials(self.runner, self.settings.trials_per_gpu), jobs)
        for task, key in enumerate(keys):
            self._watch_packed(key, submitted.job_id, task)
        trial_ids = {key: pack_job_id(submitted.job_id, task) for task, key in enumerate(keys)}
        self.started.append(StartedJob(submitted.job_id, trial_ids))
        self.packs[submitted.job_id] = (len(keys), set(keys))

    def _watch(self, key: int, entry: _Submitted, logs: str | None = None) -> None:
        """Watch a job, and note where its SLURM output is (`logs`: its task's files; default: all its tasks')."""
        self.submitted[key] = entry
        job = entry.job
        self.logs.setdefault(key, []).append((job.paths.folder, logs or f"{job.job_id}_*_log.*"))

    def _watch_packed(self, key: int, job_id: str, task: int) -> None:
        job: submitit.Job[Any] = submitit.SlurmJob(folder=self.packs_folder, job_id=job_id, tasks=(task,))
        self._watch(key, _Submitted(job, outcome_path(job.paths.folder, job_id, task)), f"{job_id}_{task}_log.*")

    def adopt(self, key: int, job_id: str, log_file: str | None) -> bool:
        """Watch a job an earlier orchestrator submitted, when SLURM still has it queued or running or it left its
        result file (submitit keeps all that is needed in the job's folder)."""
        packed = split_pack_job_id(job_id)
        cluster_id = packed[0] if packed else job_id
        state = cluster_states([cluster_id]).get(cluster_id, "")
        if packed:
            job: submitit.Job[Any] = submitit.SlurmJob(folder=self.packs_folder, job_id=cluster_id, tasks=packed[1:])
            entry = _Submitted(job, outcome_path(job.paths.folder, *packed))
        else:
            entry = _Submitted(submitit.SlurmJob(folder=self._folder(log_file, key), job_id=job_id))
        if not entry.ended and (not state or state.startswith(FINAL_STATES)):
            return False
        if packed:
            self._watch_packed(key, *packed)
            slots, waiting = self.packs.get(cluster_id, (0, set()))
            self.packs[cluster_id] = (slots + 1, waiting | {key})
        else:
            self._watch(key, entry)
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
            if entry.ended:
                ended.append((key, self._outcome(entry)))
        if self.submitted and time.monotonic() >= self.next_poll:
            self.next_poll = time.monotonic() + self.settings.poll_interval_s
            states = cluster_states(list({entry.job.job_id for entry in self.submitted.values()}))
            for key, entry in list(self.submitted.items()):
                state = states.get(entry.job.job_id, "")
                if not state.startswith(FINAL_STATES):
                    entry.final_state = None
                elif entry.final_state is None:
                    entry.final_state = state  # look again at the next poll: the result file may be on its way
                elif not entry.ended:
                    ended.append((key, Died(f"SLURM job {entry.job.job_id} ended {state} without a result")))
        for key, _ in ended:
            self._forget(key)
        return ended

    def _forget(self, key: int) -> None:
        """An ended trial's job is no longer watched; its pack frees its slots once its last trial has ended."""
        entry = self.submitted.pop(key)
        if entry.outcome is None:
            return
        slots, waiting = self.packs[entry.job.job_id]
        self.packs[entry.job.job_id] = (slots, waiting - {key})
        if not waiting - {key}:
            del self.packs[entry.job.job_id]

    @staticmethod
    def _outcome(entry: _Submitted) -> TrialOutcome | Died:
        job = entry.job
        if entry.outcome is not None:
            return read_outcome(entry.outcome)
        try:
            outcome = job.result()
        except Exception as error:  # submitit's own failure (the trial's errors are in its TrialOutcome)
            lines = [line for line in str(error).splitlines() if line.strip()]
            return TrialOutcome(TrialStatus.FAIL, reason=f"SLURM job {job.job_id}: {lines[-1] if lines else error}")
        return outcome or TrialOutcome(TrialStatus.FAIL, reason=f"SLURM job {job.job_id}: its task 0 ran no trial")

    def kill(self, key: int) -> None:
        """Cancel the trial's job (a pack's with it: its other trials are stopped along with this one)."""
        if key in self.submitted:
            self.submitted[key].job.cancel(check=False)

    def cancel_stale(self, job_id: str) -> None:
        packed = split_pack_job_id(job_id)
        subprocess.run(["scancel", packed[0] if packed else job_id], capture_output=True, check=False)

    def log_files(self, key: int) -> list[Path]:
        """SLURM's stdout and stderr of every job the trial had (a retry is a new job)."""
        return sorted(path for folder, pattern in self.logs.get(key, []) for path in folder.glob(pattern))

    def shutdown(self) -> None:
        for entry in self.submitted.values():
            entry.job.cancel(check=False)
        self.submitted.clear()
        self.waiting.clear()


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
