"""Trials as submitit local jobs (`submitit_local`): each trial a process of its own on this machine, started by
submitit with the `.submitit` folder, time limit and requeue of a cluster job, and no batch barrier: each job that
ends frees its slot for the next trial at once.

Each slot has its GPUs (`gpus_per_node` of them, placed as the `local` launcher places `gpus_per_trial`); a job
sees its slot's through `CUDA_VISIBLE_DEVICES`. 30 s before `timeout_min` ends, submitit signals the job,
which requeues itself as the same trial's next attempt (as on SLURM), up to 3 times (submitit's own default: the
config has no such field). A job outlives a sweep that is killed (not one that is stopped): the same command adopts
it while it runs, as on SLURM.
"""

import os
import shlex
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit

from sweepwise.spec.launch import submitit_local
from sweepwise.sweep.launch.executor import StartedJob
from sweepwise.sweep.launch.gpu_placement import GPU_ENV, Placement
from sweepwise.sweep.launch.slurm_requeue import RequeueableTrial
from sweepwise.sweep.outcome import Died, TrialOutcome, TrialStatus
from sweepwise.sweep.trial.trial_runner import TrialJob, TrialRunner, output_to

RESULT_POLL_S = 0.25
RESULT_GRACE_S = 5.0  # how long an adopted job seen ended may take to show its result file (as submitit waits)
STOP_WAIT_S = 5.0  # a stopped controller interrupts its task, then kills it a second later
SIGNAL_DELAY_S = 30  # submitit's own default for local jobs: LocalQueueConf has no such field
MAX_NUM_TIMEOUT = 3  # submitit's own default for local jobs: LocalQueueConf has no such field
CONTROLLER_LOG = "controller.log"  # what submitit's controller process writes (its KeyboardInterrupt on Ctrl-C)
IGNORED = ("cpus_per_task", "mem_gb")  # local jobs share this machine's CPUs and memory


@dataclass(frozen=True)
class SubmititLocalSettings:
    """The fields of a `submitit_local` config that its jobs use, checked, and those set that have no effect."""

    submitit_folder: str | None
    timeout_min: int
    gpus_per_node: int
    stderr_to_stdout: bool
    unused: tuple[str, ...] = ()  # `key=value` of each field set that local jobs ignore

    @classmethod
    def of(cls, launcher: Mapping[str, Any], processes: int = 1) -> "SubmititLocalSettings":
        conf = submitit_local(launcher, processes)
        unused = tuple(f"{key}={getattr(conf, key)}" for key in IGNORED if getattr(conf, key) is not None)
        return cls(conf.submitit_folder, conf.timeout_min, conf.gpus_per_node or 0, conf.stderr_to_stdout, unused)


class SubmititLocalExecutor:
    """Runs each submitted trial job as its own submitit local job, on its slot's GPUs."""

    job_kind = "submitit local job"

    def __init__(self, runner: TrialRunner, settings: SubmititLocalSettings, slots: Placement, default: Path) -> None:
        self.runner, self.settings, self.default_folder = runner, settings, default
        self.free = list(range(slots.size))
        self.slot_gpus = slots.slots
        self.jobs: dict[int, tuple[submitit.Job[Any], int]] = {}  # key: (job, its slot)
        self.adopted: set[int] = set()  # the jobs a killed sweep started, whose processes are not this one's
        self.logs: dict[int, list[Path]] = {}

    @property
    def held(self) -> int:
        return len(self.jobs)

    def _folder(self, log_file: str | None, number: int) -> Path:
        """`submitit_folder` (%j: the job id) when set, else beside the trial's log, else a folder of its own."""
        if self.settings.submitit_folder:
            return Path(self.settings.submitit_folder)
        return Path(log_file).parent / "submitit" if log_file else self.default_folder / str(number)

    def submit(self, key: int, job: TrialJob) -> str | None:
        slot = self.free.pop(0)
        folder = self._folder(job.log_file, job.job_num)
        executor = submitit.LocalExecutor(folder, max_num_timeout=MAX_NUM_TIMEOUT, python=_python(self.slot_gpus[slot]))
        executor.update_parameters(
            timeout_min=self.settings.timeout_min,
            signal_delay_s=SIGNAL_DELAY_S,
            stderr_to_stdout=self.settings.stderr_to_stdout,
        )
        # submitit's controller process writes to the stderr it inherits: on Ctrl-C, which reaches it from the
        # terminal as it does the sweep, a KeyboardInterrupt traceback under the sweep's own line. Its file instead
        with output_to(self._controller_log(folder, job)):
            submitted = executor.submit(RequeueableTrial(self.runner), job)
        self.jobs[key] = (submitted, slot)
        self.logs.setdefault(key, []).extend([submitted.paths.stdout, submitted.paths.stderr])
        return submitted.job_id

    def _controller_log(self, folder: Path, job: TrialJob) -> Path:
        """Beside the job's own logs; where their folder names each job by its id (`%j`), beside the trial's."""
        if "%j" not in str(folder):
            return folder / CONTROLLER_LOG
        return Path(job.log_file).parent / CONTROLLER_LOG if job.log_file else self.default_folder / CONTROLLER_LOG

    def dispatch(self) -> list[StartedJob]:
        return []

    def wait(self, timeout: float | None) -> list[tuple[int, TrialOutcome | Died]]:
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            ended = [(key, job) for key, (job, _) in self.jobs.items() if self._ended(key, job)]
            if ended or not self.jobs or time.monotonic() >= deadline:
                return [(key, self._outcome(key, job)) for key, job in ended]
            time.sleep(max(0.0, min(RESULT_POLL_S, deadline - time.monotonic())))

    def _ended(self, key: int, job: submitit.Job[Any]) -> bool:
        """A job this sweep started ends with its process; an adopted one (no process of this sweep's) once its
        result is written or its controller is gone."""
        if key not in self.adopted:
            return job.done()
        return job.paths.result_pickle.exists() or not _is_submitit_controller(int(job.job_id))

    def _outcome(self, key: int, job: submitit.Job[Any]) -> TrialOutcome | Died:
        adopted = key in self.adopted
        self.adopted.discard(key)
        self.free.append(self.jobs.pop(key)[1])
        if not (job.paths.result_pickle.exists() or (adopted and _result_shows(job))):
            return Died(f"{self.job_kind} {job.job_id} ended without a result ({job.state})")
        try:
            outcome = job.result()
        except Exception as error:  # submitit's own failure (the trial's errors are in its TrialOutcome)
            lines = [line for line in str(error).splitlines() if line.strip()]
            reason = f"{self.job_kind} {job.job_id}: {lines[-1] if lines else error}"
            return TrialOutcome(TrialStatus.FAIL, reason=reason)
        return outcome or TrialOutcome(TrialStatus.FAIL, reason=f"{self.job_kind} {job.job_id} ran no trial")

    def kill(self, key: int) -> None:
        if key in self.jobs:
            self._stop(key, self.jobs[key][0])

    def _stop(self, key: int, job: submitit.Job[Any]) -> None:
        """SIGINT through this sweep's process handle; an adopted job's controller gets SIGTERM by its id."""
        if key in self.adopted:
            self.cancel_stale(job.job_id)
        else:
            job.cancel(check=False)

    def adopt(self, key: int, job_id: str, log_file: str | None) -> bool:
        """Watch again a job a killed sweep started, while its controller process still runs (on whatever GPUs it
        was given) or once it has written its result; it takes a slot until it ends."""
        job: submitit.Job[Any] = submitit.LocalJob(folder=self._folder(log_file, key), job_id=job_id)
        alive = job_id.isdigit() and _is_submitit_controller(int(job_id))
        if not self.free or not (alive or job.paths.result_pickle.exists()):
            return False
        self.jobs[key] = (job, self.free.pop(0))
        self.adopted.add(key)
        return True

    def cancel_stale(self, job_id: str) -> None:
        """Stop what is left of a job a killed sweep started: its controller process, which stops its task."""
        if job_id.isdigit() and _is_submitit_controller(int(job_id)):
            os.kill(int(job_id), signal.SIGTERM)

    def log_files(self, key: int) -> list[Path]:
        return [path for path in self.logs.get(key, []) if path.exists()]

    def shutdown(self) -> None:
        """Stop every job, and wait (a few seconds at most) for this sweep's controllers to end: one still running
        as the sweep exits is a `ResourceWarning` traceback of its process handle under the sweep's last line."""
        for key, (job, _) in self.jobs.items():
            self._stop(key, job)
        own = [job for key, (job, _) in self.jobs.items() if key not in self.adopted]
        deadline = time.monotonic() + STOP_WAIT_S
        while not all(job.done() for job in own) and time.monotonic() < deadline:
            time.sleep(RESULT_POLL_S)
        self.jobs.clear()


def _python(gpus: tuple[str, ...] | None) -> str:
    """The job's Python command: the sweep's interpreter with its warning options (a trial that warns under
    `python -W error` fails here as it does in a worker), seeing the slot's GPUs (submitit would give every job
    the machine's first ones)."""
    command = [sys.executable, *(f"-W{option}" for option in sys.warnoptions)]
    if gpus is not None:
        command = ["env", f"{GPU_ENV}={','.join(gpus)}", *command]
    return shlex.join(command)


def _result_shows(job: submitit.Job[Any]) -> bool:
    """Whether an adopted job's result file appears within a few seconds: its end is seen through its controller's
    /proc entry, not a process handle of this sweep's, and the file may show a moment after that. (A job this sweep
    started ends with its process, which wrote the file first.)"""
    deadline = time.monotonic() + RESULT_GRACE_S
    while not job.paths.result_pickle.exists():
        if time.monotonic() >= deadline:
            return False
        time.sleep(RESULT_POLL_S)
    return True


def _is_submitit_controller(pid: int) -> bool:
    """Whether `pid` is still a submitit local controller: not ended (a zombie, which no process of this sweep's
    reaps, has ended), and not a process that has since taken its number. A Python process whose command line reads
    empty for an instant is taken as still running."""
    try:
        name, rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)  # "pid (comm", " state ppid ..."
        state = rest.split()[0]
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    return b"submitit.local._local" in command or (not command and "(python" in name)
