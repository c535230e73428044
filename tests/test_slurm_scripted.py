"""The SLURM executor's state machine against a scripted SLURM (tests/scripted_slurm.py): what it hands `sbatch`,
how it follows a job through `sacct` to its result, a requeue, a job that dies without a result, a cancelled job,
and a new executor adopting the jobs a killed one left. Jobs run here, in this process, the way SLURM's `srun`
would run them: submitit's own job entry point on the folder the batch script names. Each test takes well under a
second; test_slurm.py runs the same paths on a real cluster."""

import os
import shlex
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from scripted_slurm import ScriptedCluster
from submitit.core.submission import process_job
from submitit.core.utils import DelayedSubmission

from sweepwise.errors import ConfigError
from sweepwise.sweep.launch.executor import StartedJob
from sweepwise.sweep.launch.slurm_executor import SlurmExecutor
from sweepwise.sweep.launch.slurm_packs import PackedTrials
from sweepwise.sweep.launch.slurm_requests import check_cluster, slurm_settings
from sweepwise.sweep.launch.slurm_requeue import RequeueableTrial
from sweepwise.sweep.outcome import Died, TrialOutcome, TrialStatus
from sweepwise.sweep.trial.trial_context import TrialContext
from sweepwise.sweep.trial.trial_runner import TrialJob

POLL_S = 0.002
LAUNCHER = {
    "_target_": "hydra_plugins.sweepwise_plugins.slurm_launcher.SlurmLauncher",
    "name": "sweep",
    "partition": "gpu",
    "account": "lab",
    "cpus_per_task": 4,
    "gpus_per_node": 1,
    "mem_gb": 8,
    "timeout_min": 30,
    "signal_delay_s": 60,
    "setup": ["module load cuda"],
    "additional_parameters": {"exclude": "node3"},
    "poll_interval_s": POLL_S,
}


@dataclass
class ScriptedTrial:
    """Stands in for the trial runner inside a job: completes with the trial's `x` as its value, in a run named
    after its attempt; `preempt=once` has its first attempt signalled to checkpoint, `raise=yes` raises."""

    trial: None = None  # a trial runner's trial: what a requeue tells the trial (none here)

    def __call__(self, job: TrialJob) -> TrialOutcome:
        settings = dict(override.split("=", 1) for override in job.overrides)
        attempt = job.context.attempt if job.context else 0
        if settings.get("preempt") == "once" and attempt == 0:
            os.kill(os.getpid(), signal.SIGUSR2)  # as `scancel --signal=USR2` or the time limit's warning does
            time.sleep(10)  # submitit's handler requeues the job and exits before this ends
        if settings.get("raise") == "yes":
            raise RuntimeError("the trial's runner broke")
        return TrialOutcome(TrialStatus.COMPLETE, values=(float(settings["x"]),), run_id=f"run-of-attempt-{attempt}")


def trial(number: int, folder: Path, *overrides: str) -> TrialJob:
    context = TrialContext("study", "journal", number, number, ("maximize",), None, "uri", "0", "parent")
    log_file = folder / "multirun" / str(number) / "trial.log"
    return TrialJob((f"x=0.{number}5", *overrides), number, context, str(log_file))


def poll(executor: SlurmExecutor) -> list[tuple[int, TrialOutcome | Died]]:
    """One pass of the orchestrator's wait: the result files, then one `sacct` for every job in flight."""
    time.sleep(POLL_S * 2)
    return executor.wait(0)


def complete(number: int, attempt: int = 0) -> TrialOutcome:
    return TrialOutcome(TrialStatus.COMPLETE, values=(float(f"0.{number}5"),), run_id=f"run-of-attempt-{attempt}")


def without_times(ended: list[tuple[int, TrialOutcome | Died]]) -> list[tuple[int, TrialOutcome | Died]]:
    return [(key, replace(result, started=0.0, ended=0.0) if isinstance(result, TrialOutcome) else result)
            for key, result in ended]  # fmt: skip


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ScriptedCluster:
    cluster = ScriptedCluster.install(tmp_path / "cluster")
    monkeypatch.setenv("PATH", f"{cluster.bin}{os.pathsep}{os.environ['PATH']}")
    return cluster


@pytest.fixture
def executor(tmp_path: Path, cluster: ScriptedCluster) -> Iterator[SlurmExecutor]:
    executor = SlurmExecutor(ScriptedTrial(), slurm_settings(LAUNCHER), tmp_path / "slurm")
    yield executor
    executor.shutdown()


def run_task(cluster: ScriptedCluster, job_id: str, task: int = 0, tasks: int = 1) -> None:
    """Run one task of a job as `srun` would: submitit's entry point on the folder of the job's batch script, with
    SLURM's variables, here in this process (submitit's signal handlers are put back after)."""
    command = shlex.split(cluster.submitted_script(job_id).splitlines()[-1])
    folder = command[command.index("submitit.core._submit") + 1]
    variables = {
        "SLURM_JOB_ID": job_id,
        "SLURM_NTASKS": str(tasks),
        "SLURM_PROCID": str(task),
        "SLURM_LOCALID": str(task),
        "SLURM_JOB_NUM_NODES": "1",
        "SLURM_NODEID": "0",
        "SLURM_JOB_NODELIST": "node1",
        "SUBMITIT_EXECUTOR": "slurm",
        "SUBMITIT_FOLDER": folder,
        "CUDA_VISIBLE_DEVICES": "0",
    }
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGCONT, signal.SIGUSR2)}
    with pytest.MonkeyPatch.context() as environment:
        for name, value in variables.items():
            environment.setenv(name, value)
        environment.delenv("SLURM_RESTART_COUNT", raising=False)
        try:
            process_job(folder)
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)


def test_a_trial_is_submitted_as_a_batch_script_of_the_launchers_settings_that_runs_the_trial(
    tmp_path: Path, cluster: ScriptedCluster, executor: SlurmExecutor
):
    job = trial(7, tmp_path)
    assert executor.submit(7, job) == "4001" and executor.held == 1
    [sbatch] = cluster.calls("sbatch")
    script = cluster.submitted_script("4001")
    folder = tmp_path / "multirun" / "7" / "slurm"  # beside the trial's log
    options = {line.removeprefix("#SBATCH ") for line in script.splitlines() if line.startswith("#SBATCH ")}
    assert {
        "--job-name=study-trial-7",
        "--partition=gpu",
        "--account=lab",
        "--nodes=1",
        "--ntasks-per-node=1",
        "--cpus-per-task=4",
        "--gpus-per-node=1",
        "--mem=8GB",
        "--time=30",
        "--signal=USR2@60",
        "--exclude=node3",
        f"--output={folder}/%j_0_log.out",
    } <= options
    setup = script.index('export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"')
    assert setup < script.index("module load cuda") < script.index(f"submitit.core._submit {folder}")
    submitted = DelayedSubmission.load(folder / "4001_submitted.pkl")
    assert isinstance(submitted.function, RequeueableTrial) and submitted.args == (job,)
    assert len(sbatch) == 1 and Path(sbatch[0]).parent == folder  # the script lies in the job's folder


def test_sacct_is_polled_through_pending_and_running_until_the_jobs_result(
    tmp_path: Path, cluster: ScriptedCluster, executor: SlurmExecutor
):
    executor.submit(7, trial(7, tmp_path))
    executor.submit(8, trial(8, tmp_path))
    cluster.script("4001", "PENDING", "RUNNING", "COMPLETED")
    cluster.script("4002", "PENDING", "RUNNING")
    assert poll(executor) == [] and poll(executor) == []
    # SLURM may report the job COMPLETED before its result file shows on a shared file system: look again
    assert poll(executor) == []
    run_task(cluster, "4001")
    assert without_times(poll(executor)) == [(7, complete(7))]
    assert executor.held == 1
    asked = [set(call[call.index("-j") + 1].split(",")) for call in cluster.calls("sacct")]
    assert asked == [{"4001", "4002"}] * 4  # one call a poll, for every job in flight
    run_task(cluster, "4002")
    assert without_times(executor.wait(5)) == [(8, complete(8))]
    started, polls = time.monotonic(), len(cluster.calls("sacct"))
    assert executor.held == 0 and executor.wait(5) == []  # nothing in flight: no wait, no question to SLURM
    assert time.monotonic() - started < 1 and len(cluster.calls("sacct")) == polls


@pytest.mark.parametrize("death", ["FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "TIMEOUT"])
def test_a_job_that_ends_without_a_result_is_reported_dead_with_slurms_state_in_one_line(
    tmp_path: Path, cluster: ScriptedCluster, executor: SlurmExecutor, death: str
):
    executor.submit(7, trial(7, tmp_path))
    cluster.script("4001", "RUNNING", death)
    assert poll(executor) == [] and poll(executor) == []  # the first look at an end waits for a result file
    assert poll(executor) == [(7, Died(f"SLURM job 4001 ended {death} without a result"))]
    assert executor.held == 0


def test_a_preempted_job_that_slurm_requeues_is_followed_to_its_result(
    tmp_path: Path, cluster: ScriptedCluster, executor: SlurmExecutor
):
    executor.submit(7, trial(7, tmp_path))
    cluster.script("4001", "RUNNING", "PREEMPTED", "PENDING", "RUNNING")
    assert [poll(executor) for _ in range(4)] == [[]] * 4
    run_task(cluster, "4001")
    assert without_times(poll(executor)) == [(7, complete(7))]


def test_a_job_signalled_to_checkpoint_requeues_itself_and_runs_the_trials_next_attempt(
    tmp_path: Path, cluster: ScriptedCluster, executor: SlurmExecutor
):
    executor.submit(7, trial(7, tmp_path, "preempt=once"))
    cluster.script("4001", "RUNNING")
    with pytest.raises(SystemExit):
        run_task(cluster, "4001")
    assert cluster.calls("scontrol") == [["requeue", "4001"]]
    assert [poll(executor) for _ in range(3)] == [[]] * 3  # REQUEUED, then PENDING: not an end
    cluster.script("4001", "RUNNING", "COMPLETED")
    run_task(cluster, "4001")  # the requeued job runs what the checkpoint left: the same trial, one attempt on
    assert without_times(poll(executor)) == [(7, complete(7, attempt=1))]


def test_a_job_whose_runner_raised_is_a_failed_trial_with_the_errors_last_line(
    tmp_path: Path, cluster: ScriptedCluster, executor: SlurmExecutor
):
    executor.submit(7, trial(7, tmp_path, "raise=yes"))
    with pytest.raises(RuntimeError):
        run_task(cluster, "4001")
    [(key, outcome)] = poll(executor)
    assert key == 7 and isinstance(outcome, TrialOutcome) and outcome.status == TrialStatus.FAIL
    assert outcome.reason.startswith("SLURM job 4001: ") and "4001_0_log" in outcome.reason  # where its trace is


def test_a_killed_trials_job_is_cancelled_and_reported_dead(
    tmp_path: Path, cluster: ScriptedCluster, executor: SlurmExecutor
):
    executor.submit(7, trial(7, tmp_path))
    cluster.script("4001", "RUNNING")
    assert poll(executor) == []
    executor.kill(7)
    assert cluster.calls("scancel") == [["4001"]]
    assert poll(executor) == []
    assert poll(executor) == [(7, Died("SLURM job 4001 ended CANCELLED by 0 without a result"))]


def test_without_accounting_a_job_gone_from_the_queue_without_a_result_is_dead(
    tmp_path: Path, cluster: ScriptedCluster, executor: SlurmExecutor
):
    cluster.without_accounting()
    executor.submit(7, trial(7, tmp_path))
    cluster.script("4001", "RUNNING", "CANCELLED")
    assert poll(executor) == [] and poll(executor) == []
    [(key, died)] = poll(executor)
    gone = "COMPLETED (gone from the queue; no accounting to say how)"
    assert died == Died(f"SLURM job 4001 ended {gone} without a result")
    assert key == 7 and len(cluster.calls("squeue")) == 3


def test_a_new_executor_adopts_the_jobs_a_killed_one_left_and_cancels_those_it_cannot(
    tmp_path: Path, cluster: ScriptedCluster, executor: SlurmExecutor
):
    jobs = {number: trial(number, tmp_path) for number in (1, 2, 3, 4)}
    ids = {number: executor.submit(number, job) for number, job in jobs.items()}
    cluster.script(ids[1], "RUNNING")
    cluster.script(ids[2], "PENDING", "RUNNING")
    cluster.script(ids[3], "FAILED")
    run_task(cluster, ids[4])  # finished while no orchestrator watched: its result waits in its folder
    cluster.script(ids[4], "COMPLETED")
    # the orchestrator is killed: its executor is gone, the jobs are not. The re-run's executor:
    again = SlurmExecutor(ScriptedTrial(), slurm_settings(LAUNCHER), tmp_path / "slurm")
    adopted = {number: again.adopt(number, ids[number], jobs[number].log_file) for number in jobs}
    assert adopted == {1: True, 2: True, 3: False, 4: True}
    assert not again.adopt(5, "3999", None)  # a job SLURM no longer knows
    again.cancel_stale(ids[3])
    assert cluster.calls("scancel") == [[ids[3]]] and again.held == 3
    assert without_times(poll(again)) == [(4, complete(4))]
    run_task(cluster, ids[1])
    assert without_times(poll(again)) == [(1, complete(1))]
    run_task(cluster, ids[2])
    assert without_times(poll(again)) == [(2, complete(2))] and again.held == 0


def test_a_pack_is_one_job_of_a_task_per_trial_holding_its_slots_until_its_last_trial_ends(
    tmp_path: Path, cluster: ScriptedCluster
):
    settings = slurm_settings({**LAUNCHER, "trials_per_gpu": 2})
    executor = SlurmExecutor(ScriptedTrial(), settings, tmp_path / "slurm")
    assert executor.submit(4, trial(4, tmp_path)) is None and cluster.calls("sbatch") == []
    assert executor.submit(5, trial(5, tmp_path)) is None  # the pack is full: its job is submitted
    assert executor.dispatch() == [StartedJob("4001", {4: "4001_0", 5: "4001_1"})] and executor.dispatch() == []
    script = cluster.submitted_script("4001")
    assert "#SBATCH --job-name=study-trials-4+5" in script and "#SBATCH --ntasks-per-node=2" in script
    assert "#SBATCH --mem=16GB" in script and f"submitit.core._submit {tmp_path / 'slurm' / 'packs'}" in script
    submitted = DelayedSubmission.load(tmp_path / "slurm" / "packs" / "4001_submitted.pkl")
    assert isinstance(submitted.function, PackedTrials) and [job.job_num for job in submitted.args[0]] == [4, 5]
    cluster.script("4001", "RUNNING")
    run_task(cluster, "4001", task=1, tasks=2)
    assert without_times(poll(executor)) == [(5, complete(5))] and executor.held == 2
    # a re-run's executor adopts the pack's other trial by its task's id
    again = SlurmExecutor(ScriptedTrial(), settings, tmp_path / "slurm")
    assert again.adopt(4, "4001_0", None) and again.held == 1
    run_task(cluster, "4001", task=0, tasks=2)
    assert without_times(poll(executor)) == [(4, complete(4))] and executor.held == 0
    assert without_times(poll(again)) == [(4, complete(4))] and again.held == 0


def test_the_cluster_is_asked_whether_it_would_run_the_jobs_and_a_refusal_names_the_setting(cluster: ScriptedCluster):
    settings = slurm_settings(LAUNCHER)
    check_cluster(settings)
    cluster.refuse_jobs("invalid partition specified: gpu")
    with pytest.raises(ConfigError, match=r"^hydra.launcher.partition='gpu': SLURM would not run the jobs: invalid"):
        check_cluster(settings)
    assert [call[0] for call in cluster.calls("sbatch")] == ["--test-only"] * 2
