"""A submitit local job that a killed sweep left is adopted by the next: it ends when its controller process ends,
and its result file may show a moment after that; its outcome is the result, not a job that died without one."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import submitit
from submitit.core.utils import cloudpickle_dump

from sweepwise.sweep.launch.gpu_placement import Placement
from sweepwise.sweep.launch.submitit_local_executor import SubmititLocalExecutor, SubmititLocalSettings
from sweepwise.sweep.outcome import Died, TrialOutcome, TrialStatus

FOLDER = "submitit/%j"


def controller(seconds: float) -> subprocess.Popen:
    """A process whose command line reads as a submitit local controller's, for `seconds`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; time.sleep(float(sys.argv[1]))",
            str(seconds),
            "-m submitit.local._local",
        ]
    )


def executor(tmp_path: Path) -> SubmititLocalExecutor:
    settings = SubmititLocalSettings(str(tmp_path / FOLDER), timeout_min=60, gpus_per_node=0, stderr_to_stdout=False)
    return SubmititLocalExecutor(None, settings, Placement((None,)), tmp_path)  # type: ignore[arg-type]


def write_result_later(tmp_path: Path, job_id: str, after_s: float, outcome: TrialOutcome) -> threading.Thread:
    result = submitit.LocalJob(folder=tmp_path / FOLDER, job_id=job_id).paths.result_pickle
    result.parent.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        time.sleep(after_s)
        cloudpickle_dump(("success", outcome), result)

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_an_adopted_job_whose_result_shows_after_its_controller_ended_gets_that_result(tmp_path: Path):
    process = controller(0.5)
    jobs = executor(tmp_path)
    assert jobs.adopt(0, str(process.pid), None)
    process.wait()  # reaped: its /proc entry is gone, as a job's whose controller ended
    writer = write_result_later(tmp_path, str(process.pid), 1.0, TrialOutcome(TrialStatus.COMPLETE, values=(1.5,)))
    ended = jobs.wait(timeout=30)
    writer.join()
    assert [(key, outcome.status, outcome.values) for key, outcome in ended] == [(0, TrialStatus.COMPLETE, (1.5,))]
    assert jobs.held == 0


def test_an_adopted_job_is_watched_while_its_controller_runs_even_as_a_zombie_it_ends(tmp_path: Path):
    process = controller(1.0)
    jobs = executor(tmp_path)
    assert jobs.adopt(0, str(process.pid), None)
    assert jobs.wait(timeout=0.3) == []  # running
    started = time.monotonic()
    ended = jobs.wait(timeout=30)  # the controller ends and is left a zombie: nothing of this process reaps it
    assert len(ended) == 1 and isinstance(ended[0][1], Died)
    assert "ended without a result" in ended[0][1].reason
    assert time.monotonic() - started < 10  # its end seen, then a few seconds' grace for the result
    process.wait()


def test_a_job_of_another_process_taking_the_number_is_not_adopted(tmp_path: Path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        assert not executor(tmp_path).adopt(0, str(other.pid), None)
    finally:
        other.kill()
        other.wait()
