"""The orchestrator in-process, driven by a scripted executor: retries, the failure-rate stop, a lost tracking server,
resuming a study with trials left running, Ctrl-C. Each runs in milliseconds; the subprocess sweeps in
test_sweep.py and test_faults.py prove the same paths through real worker processes, SLURM jobs and MLflow."""

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pytest
from omegaconf import OmegaConf
from optuna.trial import TrialState

from sweepwise.spec.sweep_schedule import Asha, Pbt
from sweepwise.study.records import (
    ATTEMPTS_ATTR,
    CONTINUES_ATTR,
    FAIL_REASON_ATTR,
    INTERRUPTED_ATTR,
    JOB_ID_ATTR,
    PAUSED_ATTR,
    PBT_GENERATION_ATTR,
    PBT_PARENT_ATTR,
    PRUNE_REASON_ATTR,
    RUN_ID_ATTR,
)
from sweepwise.sweep.driver.left_running import continue_interrupted
from sweepwise.sweep.driver.orchestrator import Orchestrator, SweepStopped
from sweepwise.sweep.driver.param_grammar import parse_search_space
from sweepwise.sweep.driver.plan import SweepSettings
from sweepwise.sweep.driver.progress import BestSoFar, SweepProgress, status_line
from sweepwise.sweep.driver.trial_flights import continuing_note, interrupted, mark_interrupted
from sweepwise.sweep.launch.executor import StartedJob
from sweepwise.sweep.outcome import Died, TrialOutcome, TrialStatus, objective_outcome
from sweepwise.sweep.trial import trial_runner
from sweepwise.sweep.trial.trial_context import TrialContext
from sweepwise.sweep.trial.trial_runner import TrialJob
from sweepwise.tracking.retry import TrackingUnreachable

Script = Callable[[TrialJob], TrialOutcome | Died]


def completes(job: TrialJob) -> TrialOutcome:
    """Every trial completes with its sampled x as the objective, in a run of its own."""
    x = float(job.overrides[0].split("=")[1])
    attempt = job.context.attempt if job.context else 0
    return TrialOutcome(TrialStatus.COMPLETE, values=(x,), run_id=f"run-{job.job_num}-{attempt}")


@dataclass
class ScriptedExecutor:
    """Ends one job per `wait` (the oldest), with what `script` says; records what the orchestrator asked of it."""

    script: Script = completes
    interrupt_on_wait: int | None = None  # raise KeyboardInterrupt at this call of wait (1-based)
    interrupt_on_submit: int | None = None  # or at this call of submit
    job_kind: str = "scripted job"
    running: dict[Hashable, TrialJob] = field(default_factory=dict)
    submitted: list[TrialJob] = field(default_factory=list)
    killed: list[Hashable] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    still_running: dict[str, TrialJob] = field(default_factory=dict)  # jobs an earlier orchestrator left running
    adopted: list[str] = field(default_factory=list)
    most_running: int = 0
    waits: int = 0
    shut_down: bool = False

    def submit(self, key: Hashable, job: TrialJob) -> str:
        if len(self.submitted) + 1 == self.interrupt_on_submit:
            raise KeyboardInterrupt
        self.submitted.append(job)
        self.running[key] = job
        self.most_running = max(self.most_running, len(self.running))
        return f"job-{len(self.submitted)}"

    @property
    def held(self) -> int:
        return len(self.running)

    def dispatch(self) -> list[StartedJob]:
        return []

    def wait(self, timeout: float | None) -> list[tuple[Hashable, TrialOutcome | Died]]:
        self.waits += 1
        if self.waits == self.interrupt_on_wait:
            raise KeyboardInterrupt
        key = next(iter(self.running))
        return [(key, self.script(self.running.pop(key)))]

    def kill(self, key: Hashable) -> None:
        self.killed.append(key)
        self.running.pop(key, None)

    def adopt(self, key: int, job_id: str, log_file: str | None) -> bool:
        if job_id not in self.still_running:
            return False
        self.adopted.append(job_id)
        self.running[key] = self.still_running[job_id]
        return True

    def cancel_stale(self, job_id: str) -> None:
        self.cancelled.append(job_id)

    def log_files(self, key: Hashable) -> list[Path]:
        return []

    def shutdown(self) -> None:
        self.shut_down = True


class RecordingTracker:
    """Stands in for the MLflow side (SweepTracker): which trial runs the sweep ends, and how."""

    def __init__(self) -> None:
        self.ended: dict[int, list[tuple[str | None, TrialOutcome]]] = {}
        self.matched: dict[int, Any] = {}
        self.continued: dict[str, int] = {}
        self.lineage: list[tuple[str, dict[str, float], dict[str, str], int]] = []  # pbt's, logged on runs

    def end_child(self, number: int, run_id: str | None, outcome: TrialOutcome, params: dict[str, Any]) -> None:
        self.ended.setdefault(number, []).append((run_id, outcome))

    def match_children(self, ended: dict[int, Any]) -> None:
        self.matched = dict(ended)

    def run_of(self, number: int, recorded: str | None) -> str | None:
        return recorded  # no run was created for an interrupted trial here but the ones they recorded

    def stored_run(self, run_id: str | None) -> str | None:
        return run_id  # the store holds every run a trial recorded

    def child_run(self, number: int, params: dict[str, Any]) -> str:
        return f"made-for-{number}"  # the run found or made for a trial killed before it recorded one

    def mark_continued(self, run_id: str, number: int, began: int) -> None:
        self.continued[run_id] = number

    def log_child_artifact(self, run_id: str, path: Path) -> None:
        raise AssertionError("no job here has a log file")

    def log_child(self, run_id: str, metrics: dict[str, float], tags: dict[str, str], step: int) -> None:
        self.lineage.append((run_id, dict(metrics), dict(tags), step))

    def check(self) -> None:
        pass


def make_orchestrator(
    study: optuna.Study,
    executor: ScriptedExecutor,
    tracker: RecordingTracker,
    n_trials: int = 4,
    n_jobs: int = 2,
    max_failure_rate: float = 0.0,
    retries: int = 0,
    custom_search_space: Callable[[Any, optuna.Trial], Any] | None = None,
    schedule: Asha | Pbt | None = None,
) -> Orchestrator:
    space = parse_search_space({"x": "interval(0, 1)"}, [])
    settings = SweepSettings("study", n_trials, n_jobs, max_failure_rate, retries, schedule)

    def context(trial: optuna.Trial, params: dict[str, Any], run_id: str | None, attempt: int) -> TrialContext:
        return TrialContext(
            study_name="study",
            storage="in memory",
            trial_id=trial._trial_id,
            trial_number=trial.number,
            directions=("maximize",),
            pruner=None,
            tracking_uri="unused",
            experiment_id="0",
            parent_run_id="parent",
            params=params,
            run_id=run_id,
            attempt=attempt,
        )

    progress = SweepProgress(n_trials, live=False)
    return Orchestrator(
        study,
        space,
        settings,
        executor,  # type: ignore[arg-type]
        tracker,  # type: ignore[arg-type]
        progress,
        context,
        custom_search_space,
        task_config=OmegaConf.create({}),
    )


@pytest.fixture
def study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))


def states(study: optuna.Study) -> list[str]:
    return [trial.state.name for trial in study.get_trials(deepcopy=False)]


def test_a_continuation_says_whether_its_work_left_a_checkpoint(tmp_path: Path) -> None:
    work = tmp_path / "2"
    work.mkdir()
    assert "trial 2's work, which left no checkpoint: from the start" in continuing_note({}, 2, work)
    (work / "checkpoints").mkdir()  # made, nothing in it yet
    assert "which left no checkpoint" in continuing_note({}, 2, work)
    (work / "checkpoints" / "last.pt").write_bytes(b"saved")
    assert "trial 2's work from its checkpoint" in continuing_note({}, 2, work)
    assert "from its checkpoint" in continuing_note({}, 2, tmp_path / "elsewhere")  # not found where looked for


def test_every_trial_completes_with_slots_kept_full(study: optuna.Study) -> None:
    executor, tracker = ScriptedExecutor(), RecordingTracker()
    orchestrator = make_orchestrator(study, executor, tracker, n_trials=5, n_jobs=2)
    orchestrator.run()
    assert states(study) == ["COMPLETE"] * 5
    assert executor.most_running == 2 and executor.shut_down
    # the objective the trial's process decided is what the study holds, and the sweep ended each trial's run once
    for trial in study.trials:
        assert trial.value == pytest.approx(trial.params["x"])
        assert tracker.ended[trial.number] == [(f"run-{trial.number}-0", tracker.ended[trial.number][0][1])]
        assert tracker.ended[trial.number][0][1].status is TrialStatus.COMPLETE
    assert orchestrator.best_text() == f"{study.best_value:.4g} (trial {study.best_trial.number})"
    assert orchestrator.counts == {"COMPLETE": 5, "INTERRUPTED": 0}


def test_a_trial_that_takes_an_ended_ones_slot_is_told_after_it(study: optuna.Study, capsys) -> None:
    """One slot: each trial's start line follows the end line of the trial before it, though it starts first."""
    make_orchestrator(study, ScriptedExecutor(), RecordingTracker(), n_trials=3, n_jobs=1).run()
    lines = [line.split(":")[0] for line in capsys.readouterr().out.splitlines() if line.startswith("trial ")]
    told = [(line.split()[1], line.split()[2]) for line in lines]
    assert told == [(str(n), state) for n in range(3) for state in ("started", "COMPLETE")], lines


@dataclass
class PackingExecutor(ScriptedExecutor):
    """Holds submitted trials until `dispatch`, then starts them as one pack; a pack holds its slots until its
    last trial has ended (one trial ends per `wait`)."""

    waiting: list[Hashable] = field(default_factory=list)
    packs: list[list[Hashable]] = field(default_factory=list)
    most_held: int = 0

    def submit(self, key: Hashable, job: TrialJob) -> None:  # type: ignore[override]
        super().submit(key, job)
        self.waiting.append(key)

    @property
    def held(self) -> int:
        return sum(len(pack) for pack in self.packs if set(pack) & set(self.running)) + len(self.waiting)

    def dispatch(self) -> list[StartedJob]:
        if not self.waiting:
            return []
        self.packs.append(self.waiting)
        self.waiting = []
        self.most_held = max(self.most_held, self.held)
        job_id = f"pack-{len(self.packs)}"
        return [StartedJob(job_id, {int(key): f"{job_id}_{task}" for task, key in enumerate(self.packs[-1])})]


def test_packed_trials_record_their_pack_and_a_pack_frees_its_slots_together(study: optuna.Study, capsys) -> None:
    executor = PackingExecutor()
    make_orchestrator(study, executor, RecordingTracker(), n_trials=6, n_jobs=2).run()
    assert "packed in scripted job pack-2: trial 2 as pack-2_0, trial 3 as pack-2_1\n" in capsys.readouterr().out
    assert states(study) == ["COMPLETE"] * 6
    # one trial ends per wait: had a slot been freed by each trial, packs would be of one trial after the first
    assert executor.packs == [[0, 1], [2, 3], [4, 5]] and executor.most_held == 2
    assert [trial.user_attrs["job_id"] for trial in study.trials] == [
        f"pack-{pack}_{task}" for pack in (1, 2, 3) for task in (0, 1)
    ]


def test_a_died_job_is_retried_as_the_same_trial(study: optuna.Study) -> None:
    attempts: list[int] = []

    def dies_once(job: TrialJob) -> TrialOutcome | Died:
        attempts.append(job.context.attempt)
        return Died("process killed by SIGKILL") if job.context.attempt == 0 else completes(job)

    executor, tracker = ScriptedExecutor(dies_once), RecordingTracker()
    make_orchestrator(study, executor, tracker, n_trials=1, n_jobs=1, retries=1).run()
    assert attempts == [0, 1]
    assert [job.job_num for job in executor.submitted] == [0, 0]
    trial = study.trials[0]
    assert trial.state == TrialState.COMPLETE and trial.user_attrs[ATTEMPTS_ATTR] == 2
    assert tracker.ended[0][0][0] == "run-0-1"


def test_a_job_that_dies_past_its_retries_fails_with_the_reason(study: optuna.Study) -> None:
    executor = ScriptedExecutor(lambda job: Died("process killed by SIGKILL"))
    orchestrator = make_orchestrator(study, executor, RecordingTracker(), n_trials=2, n_jobs=1, max_failure_rate=1)
    orchestrator.run()
    assert states(study) == ["FAIL", "FAIL"]
    assert study.trials[0].user_attrs[FAIL_REASON_ATTR] == "process killed by SIGKILL"
    assert INTERRUPTED_ATTR not in study.trials[0].user_attrs
    assert orchestrator.counts["FAIL"] == 2


def test_failures_past_the_rate_stop_launching_and_let_running_trials_end(study: optuna.Study, capsys) -> None:
    def fails(job: TrialJob) -> TrialOutcome:
        return TrialOutcome(TrialStatus.FAIL, reason="RuntimeError: cfg.error is True\n(more lines of the error)")

    executor = ScriptedExecutor(fails)
    orchestrator = make_orchestrator(study, executor, RecordingTracker(), n_trials=8, n_jobs=2, max_failure_rate=0.25)
    stop = r"3 of 8 trials failed, more than max_failure_rate=0.25 allows \(2\); the last: RuntimeError: cfg.error"
    with pytest.raises(SweepStopped, match=stop):
        orchestrator.run()
    # the third failure stops launching; the trial already running then ends too, and nothing is left running
    assert len(executor.submitted) == 4
    assert states(study) == ["FAIL"] * 4
    assert study.trials[0].user_attrs[FAIL_REASON_ATTR] == "RuntimeError: cfg.error is True\n(more lines of the error)"
    lines = capsys.readouterr().out.splitlines()
    (stopping,) = [index for index, line in enumerate(lines) if line.startswith("sweep stopping on failures")]
    assert lines[stopping - 1].startswith("trial 2 FAIL in ")  # told right after the failure that caused it
    assert lines[stopping].endswith("waiting for 1 running trial")
    assert not any("3 of 8" in line for line in lines)  # the reason once, in the error that ends the sweep


@pytest.mark.parametrize(("max_failure_rate", "stopped"), [(0.2, True), (0.25, False)])
def test_a_complete_study_run_again_ends_as_its_failures_say(
    study: optuna.Study, max_failure_rate: float, stopped: bool
) -> None:
    """The same command again on a study whose failures stopped it, with all its trials ended, launches nothing and
    stops on the same failures (its parent run FAILED again), rather than reporting a complete sweep."""

    def fails_one(job: TrialJob) -> TrialOutcome:
        failed = job.context is not None and job.context.trial_number == 3
        return TrialOutcome(TrialStatus.FAIL, reason="ValueError: bad x") if failed else completes(job)

    first = make_orchestrator(study, ScriptedExecutor(fails_one), RecordingTracker(), n_trials=4, n_jobs=1)
    first.settings = SweepSettings("study", 4, 1, max_failure_rate, 0)
    if stopped:
        with pytest.raises(SweepStopped):
            first.run()
    else:
        first.run()
    executor = ScriptedExecutor()
    again = make_orchestrator(study, executor, RecordingTracker(), n_trials=4, n_jobs=1)
    again.settings = first.settings
    if stopped:
        with pytest.raises(SweepStopped, match="1 of 4 trials failed.*the last: ValueError: bad x"):
            again.run()
    else:
        again.run()
    assert executor.submitted == [] and states(study) == ["COMPLETE"] * 3 + ["FAIL"]


def test_a_study_its_failures_stopped_stops_again_before_launching_anything(study: optuna.Study) -> None:
    """Stopped by a failure with trials left to run, the same command again stops on the same failures, as it
    does once every trial has ended, instead of running the rest as if the budget were not spent."""

    def fails_second(job: TrialJob) -> TrialOutcome:
        failed = job.context is not None and job.context.trial_number == 1
        return TrialOutcome(TrialStatus.FAIL, reason="ValueError: bad x") if failed else completes(job)

    first = make_orchestrator(study, ScriptedExecutor(fails_second), RecordingTracker(), n_trials=4, n_jobs=1)
    with pytest.raises(SweepStopped):
        first.run()
    executor = ScriptedExecutor()
    again = make_orchestrator(study, executor, RecordingTracker(), n_trials=4, n_jobs=1)
    with pytest.raises(SweepStopped, match="1 of 4 trials failed.*a larger hydra.sweeper.max_failure_rate goes on"):
        again.run()
    assert executor.submitted == [] and states(study) == ["COMPLETE", "FAIL"]


def test_a_pruned_trial_keeps_its_reason(study: optuna.Study) -> None:
    def pruned(job: TrialJob) -> TrialOutcome:
        return TrialOutcome(TrialStatus.PRUNED, reason="pruned at epoch 3: val/acc 0.1")

    tracker = RecordingTracker()
    make_orchestrator(study, ScriptedExecutor(pruned), tracker, n_trials=1, n_jobs=1).run()
    assert states(study) == ["PRUNED"]
    assert study.trials[0].user_attrs[PRUNE_REASON_ATTR] == "pruned at epoch 3: val/acc 0.1"
    assert tracker.ended[0][0][1].status is TrialStatus.PRUNED


def test_a_lost_tracking_server_interrupts_the_sweep_and_a_resume_runs_the_trial_again(study: optuna.Study) -> None:
    lost = "error: MLflow tracking server http://127.0.0.1:1 is unreachable: gave up after 3 retries over ~6 s"

    def loses_tracking_at_trial_1(job: TrialJob) -> TrialOutcome:
        if job.job_num == 1:
            return TrialOutcome(TrialStatus.TRACKING_LOST, reason=lost)
        return completes(job)

    executor = ScriptedExecutor(loses_tracking_at_trial_1)
    orchestrator = make_orchestrator(study, executor, RecordingTracker(), n_trials=4, n_jobs=1)
    with pytest.raises(TrackingUnreachable, match="is unreachable"):
        orchestrator.run()
    assert len(executor.submitted) == 2  # no trial launched after the server was lost
    assert states(study) == ["COMPLETE", "FAIL"]
    interrupted = study.trials[1]
    assert interrupted.user_attrs[INTERRUPTED_ATTR] is True
    assert interrupted.user_attrs[FAIL_REASON_ATTR] == f"interrupted: {lost}"
    assert orchestrator.counts == {"COMPLETE": 1, "INTERRUPTED": 1}  # counted apart from the trials' own failures

    again = ScriptedExecutor()
    resumed = make_orchestrator(study, again, RecordingTracker(), n_trials=4, n_jobs=1)
    resumed.run()
    # the interrupted trial's work goes on first: the same params, in its folder, as a later attempt of its run
    first = again.submitted[0]
    assert (
        first.job_num == 1
        and first.context.attempt == 1
        and first.overrides == tuple(interrupted.user_attrs["overrides"])
    )
    assert study.trials[2].user_attrs["continues"] == 1 and study.trials[2].params == interrupted.params
    assert states(study).count("COMPLETE") == 4
    assert resumed.counts == {"COMPLETE": 4, "INTERRUPTED": 1}


def test_a_resumed_sweep_fails_trials_left_running_and_cancels_their_jobs(study: optuna.Study) -> None:
    left = study.ask()  # what a SIGKILLed orchestrator leaves behind: a RUNNING trial with its job and run
    left.suggest_float("x", 0, 1)
    left.set_user_attr(JOB_ID_ATTR, "4242")
    left.set_user_attr(RUN_ID_ATTR, "run-left")
    executor, tracker = ScriptedExecutor(), RecordingTracker()
    orchestrator = make_orchestrator(study, executor, tracker, n_trials=3, n_jobs=2)
    orchestrator.run()
    assert executor.cancelled == ["4242"]
    assert states(study) == ["FAIL", "COMPLETE", "COMPLETE", "COMPLETE"]
    # the continuation shares the interrupted trial's run and folder
    continuation = study.trials[1]
    assert continuation.user_attrs["continues"] == 0 and continuation.user_attrs["mlflow_run_id"] == "run-left"
    assert tracker.continued == {"run-left": 1}  # the run names the trial that continues it
    assert executor.submitted[0].job_num == 0 and executor.submitted[0].context.run_id == "run-left"
    assert study.trials[0].user_attrs[INTERRUPTED_ATTR] is True
    run_id, outcome = tracker.ended[0][0]
    assert run_id == "run-left" and outcome.reason.startswith("interrupted")
    assert orchestrator.counts == {"COMPLETE": 3, "INTERRUPTED": 1}


def test_a_trial_killed_before_recording_its_run_gets_one_that_its_continuation_shares(study: optuna.Study) -> None:
    left = study.ask()  # SIGKILLed between the trial's start and its run being recorded
    left.suggest_float("x", 0, 1)
    executor, tracker = ScriptedExecutor(), RecordingTracker()
    make_orchestrator(study, executor, tracker, n_trials=2, n_jobs=1).run()
    assert states(study) == ["FAIL", "COMPLETE", "COMPLETE"]
    assert study.trials[0].user_attrs[RUN_ID_ATTR] == "made-for-0"
    assert tracker.ended[0][0][0] == "made-for-0"
    assert study.trials[1].user_attrs["continues"] == 0 and study.trials[1].user_attrs[RUN_ID_ATTR] == "made-for-0"


def test_ctrl_c_fails_running_trials_as_interrupted_and_stops_their_jobs(study: optuna.Study) -> None:
    executor, tracker = ScriptedExecutor(interrupt_on_wait=2), RecordingTracker()
    orchestrator = make_orchestrator(study, executor, tracker, n_trials=6, n_jobs=2)
    with pytest.raises(KeyboardInterrupt):
        orchestrator.run()
    assert executor.shut_down
    running = [trial for trial in study.trials if INTERRUPTED_ATTR in trial.user_attrs]
    assert len(running) == 2 and sorted(executor.killed) == [trial.number for trial in running]
    assert all(trial.state == TrialState.FAIL for trial in running)
    assert states(study).count("RUNNING") == 0
    assert all(tracker.ended[trial.number][0][1].status is TrialStatus.FAIL for trial in running)
    assert orchestrator.counts["INTERRUPTED"] == 2 and orchestrator.counts["FAIL"] == 0


def test_ctrl_c_as_an_ended_trial_awaits_its_bookkeeping_records_it_as_it_ended(study: optuna.Study) -> None:
    # trial 0 has ended and the next trial is being started, before trial 0 is recorded, when Ctrl-C comes
    executor, tracker = ScriptedExecutor(interrupt_on_submit=3), RecordingTracker()
    orchestrator = make_orchestrator(study, executor, tracker, n_trials=6, n_jobs=2)
    with pytest.raises(KeyboardInterrupt):
        orchestrator.run()
    assert states(study) == ["COMPLETE", "FAIL", "FAIL"]
    assert study.trials[0].value == float(executor.submitted[0].overrides[0].split("=")[1])
    assert all(study.trials[n].user_attrs[INTERRUPTED_ATTR] for n in (1, 2))  # in flight, and asked
    assert sorted(tracker.ended) == [0, 1, 2] and tracker.ended[0][0][1].status is TrialStatus.COMPLETE
    assert orchestrator.counts["COMPLETE"] == 1 and orchestrator.counts["INTERRUPTED"] == 2


def test_ctrl_c_between_asking_a_trial_and_starting_it_leaves_it_interrupted(study: optuna.Study) -> None:
    def interrupted_on_the_second(cfg: Any, trial: optuna.Trial) -> None:
        if trial.number == 1:
            raise KeyboardInterrupt

    executor, tracker = ScriptedExecutor(), RecordingTracker()
    orchestrator = make_orchestrator(study, executor, tracker, custom_search_space=interrupted_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        orchestrator.run()
    assert states(study) == ["FAIL", "FAIL"] and executor.killed == [0]
    assert all(trial.user_attrs[INTERRUPTED_ATTR] for trial in study.trials)
    assert sorted(tracker.ended) == [0, 1] and orchestrator.counts["INTERRUPTED"] == 2
    assert study.trials[1].user_attrs[RUN_ID_ATTR] == "made-for-1"  # the run its continuation will share


def test_a_custom_search_space_that_raises_on_a_trial_fails_it_and_stops_the_sweep(study: optuna.Study) -> None:
    """An error only the study shows (another distribution for a parameter earlier trials had) is the trial's FAIL
    with the reason, not an interrupted trial that every rerun would ask again."""

    def narrowed_on_the_second(cfg: Any, trial: optuna.Trial) -> None:
        trial.suggest_int("model.depth", 1, 4, log=trial.number == 1)

    executor, tracker = ScriptedExecutor(), RecordingTracker()
    orchestrator = make_orchestrator(study, executor, tracker, custom_search_space=narrowed_on_the_second)
    with pytest.raises(SweepStopped, match="custom_search_space raised ValueError: Cannot set different log"):
        orchestrator.run()
    second = study.trials[1]
    assert second.state is TrialState.FAIL and INTERRUPTED_ATTR not in second.user_attrs
    assert second.user_attrs[FAIL_REASON_ATTR].startswith("custom_search_space raised ValueError")
    assert 1 not in tracker.ended  # no run was made for a trial that never started


@pytest.mark.parametrize(
    ("value", "n_objectives", "status", "reason"),
    [
        (0.5, 1, TrialStatus.COMPLETE, ""),
        ([0.5, 2.0], 2, TrialStatus.COMPLETE, ""),
        (float("nan"), 1, TrialStatus.FAIL, "the task returned a non-finite objective [nan]"),
        ("high", 1, TrialStatus.FAIL, "the task returned 'high', not a number"),
        ([0.5], 2, TrialStatus.FAIL, "the task returned 1 values for 2 objectives"),
        (None, 2, TrialStatus.FAIL, "the task returned None, not a list of 2 numbers"),
    ],
)
def test_the_trial_decides_its_outcome_from_what_the_task_returned(
    value: Any, n_objectives: int, status: TrialStatus, reason: str
) -> None:
    outcome = objective_outcome(value, n_objectives)
    assert (outcome.status, outcome.reason) == (status, reason)
    assert outcome.return_value is value or outcome.return_value == value
    assert (outcome.values is not None) == (status is TrialStatus.COMPLETE)


def test_a_trial_whose_tracking_server_gave_up_is_tracking_lost_even_behind_a_one_line_exit() -> None:
    from mlflow.exceptions import MlflowException

    from sweepwise.sweep.trial.trial_runner import _failure

    def task() -> None:
        try:
            raise MlflowException(
                "API request to http://127.0.0.1:9/api/2.0/mlflow/runs/get failed: Max retries exceeded"
            )
        except MlflowException:
            raise SystemExit("error: the server went away") from None  # what train.py's entry point does

    with pytest.raises(SystemExit) as stopped:
        task()
    lost = _failure(stopped.value)
    assert lost.status is TrialStatus.TRACKING_LOST and "http://127.0.0.1:9 is unreachable" in lost.reason
    assert _failure(SystemExit("error: optimizer.lr=-1: must be > 0")).status is TrialStatus.FAIL


def test_the_status_line_counts_interrupted_trials_apart_from_failures() -> None:
    from sweepwise.sweep.driver.progress import status_line

    counts = {"COMPLETE": 1, "RUNNING": 1, "FAIL": 0, "INTERRUPTED": 2}
    line = status_line(counts, 4, "0.5 (trial 0)")
    interrupted = "(2 interrupted, each continued by a later trial)"
    assert line == f"sweep: 1 complete, 1 running, 0 pruned, 0 failed of 4 {interrupted} | best 0.5 (trial 0)"
    assert "interrupted" not in status_line({"COMPLETE": 1}, 4, "-")
    # a study holding more ended trials than n_trials now asks for counts them all
    assert "4 complete, 0 running, 5 pruned, 0 failed of 9 " in status_line({"COMPLETE": 4, "PRUNED": 5}, 3, "-")


def test_a_resumed_sweep_adopts_jobs_still_running_instead_of_cancelling_them(study: optuna.Study) -> None:
    kept, gone = study.ask(), study.ask()  # what a SIGKILLed orchestrator leaves: two RUNNING trials with jobs
    for trial, job_id in ((kept, "77"), (gone, "78")):
        trial.suggest_float("x", 0, 1)
        trial.set_user_attr(JOB_ID_ATTR, job_id)
        trial.set_user_attr("overrides", [f"x={trial.params['x']!r}"])
    running_job = TrialJob((f"x={kept.params['x']!r}",), kept.number)
    executor = ScriptedExecutor(still_running={"77": running_job})
    orchestrator = make_orchestrator(study, executor, RecordingTracker(), n_trials=3, n_jobs=2)
    orchestrator.run()
    assert executor.adopted == ["77"] and executor.cancelled == ["78"]
    assert study.trials[kept.number].state == TrialState.COMPLETE  # its own job's result, watched again
    assert study.trials[kept.number].value == pytest.approx(kept.params["x"])
    assert study.trials[gone.number].user_attrs[INTERRUPTED_ATTR] is True
    # the adopted trial took a slot and counts: 3 COMPLETE in all, one of them continuing the gone trial's work
    assert states(study).count("COMPLETE") == 3 and len(executor.submitted) == 2
    assert executor.submitted[0].job_num == gone.number


def test_interrupted_work_a_changed_search_space_no_longer_holds_is_not_continued(study: optuna.Study, capsys) -> None:
    for x in (0.2, 0.9):
        study.enqueue_trial({"x": x})
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        mark_interrupted(trial, interrupted("the sweep was stopped"))
        study.tell(trial, state=TrialState.FAIL)
    narrowed = parse_search_space({"x": "interval(0, 0.5)"}, [])
    assert continue_interrupted(study, study.trials, narrowed, SweepProgress(4, live=False)) == 1
    queued = study.get_trials(states=(TrialState.WAITING,))
    assert [trial.user_attrs[CONTINUES_ATTR] for trial in queued] == [0]
    assert (
        "trial 1's interrupted work is not continued: the search space no longer holds x=0.9" in capsys.readouterr().out
    )
    # the study records it: a later run says nothing more of it, queues nothing again, and counts it as left
    assert continue_interrupted(study, study.trials, narrowed, SweepProgress(4, live=False)) == 1
    assert "trial 1" not in capsys.readouterr().out and len(study.get_trials(states=(TrialState.WAITING,))) == 1
    line = status_line({"COMPLETE": 2, "INTERRUPTED": 2, "LEFT": 1}, 4, "0.1 (trial 2)")
    assert "(2 interrupted: 1 continued by a later trial, 1 left, outside the search space)" in line


def test_a_study_whose_last_trials_are_adopted_jobs_is_resumed_not_complete(study: optuna.Study, capsys) -> None:
    for x in (0.1, 0.2):
        study.enqueue_trial({"x": x})
        done = study.ask()
        done.suggest_float("x", 0, 1)
        study.tell(done, x)
    left = study.ask()
    left.suggest_float("x", 0, 1)
    left.set_user_attr(JOB_ID_ATTR, "77")
    executor = ScriptedExecutor(still_running={"77": TrialJob((f"x={left.params['x']!r}",), left.number)})
    make_orchestrator(study, executor, RecordingTracker(), n_trials=3, n_jobs=2).run()
    out = capsys.readouterr().out
    assert "2 trials finished already (2 COMPLETE)" in out and "is complete" not in out
    assert executor.adopted == ["77"] and states(study) == ["COMPLETE"] * 3


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (SystemExit(3), "the task exited with code 3"),
        (SystemExit(), "the task exited with code 0"),
        (SystemExit("error: data.path='x': no such file"), "error: data.path='x': no such file"),
        (ValueError("diverged"), "ValueError: diverged"),
    ],
)
def test_a_failed_trials_reason_says_why_or_at_least_how_it_ended(error: BaseException, reason: str):
    assert trial_runner._failure(error).reason == reason


@pytest.mark.parametrize("maximize", [True, False])
def test_of_tied_trials_the_status_line_names_the_one_optuna_calls_best(maximize: bool) -> None:
    study = optuna.create_study(direction="maximize" if maximize else "minimize")
    for value in (0.5, 0.92, 0.92):
        study.add_trial(optuna.trial.create_trial(value=value))
    best = BestSoFar(maximize)
    for trial in reversed(study.trials):  # trials end in any order
        best.note(trial.values[0], trial.number)
    expected = study.best_trial.number if maximize else 0
    assert best.best == (study.trials[expected].value, expected)


def scheduled(study: optuna.Study, schedule: Asha | Pbt, epochs: int) -> Script:
    """Each trial trains from where its work stopped (a continuation's values are its work's), reports every epoch
    as `StudyReporter` does (its value: x times the epoch) and pauses where the schedule says."""

    def run(job: TrialJob) -> TrialOutcome:
        assert job.context is not None
        trial = optuna.trial.Trial(study, job.context.trial_id)
        x = float(job.overrides[0].split("=")[1])
        run_id = job.context.run_id or f"run-{job.job_num}"
        trial.set_user_attr(RUN_ID_ATTR, run_id)  # as the trial's process records the run it opens
        start = max(study.trials[job.context.trial_number].intermediate_values, default=0)
        for epoch in range(start + 1, epochs + 1):
            trial.report(x * epoch, epoch)
            rung = schedule.crossed(epoch - 1, epoch)
            if rung is not None and epoch < epochs:
                trial.set_user_attr(PAUSED_ATTR, rung)
                return TrialOutcome(TrialStatus.PRUNED, reason=f"paused at step {epoch}", run_id=run_id)
        return TrialOutcome(TrialStatus.COMPLETE, values=(x * epochs,), run_id=run_id)

    return run


def test_under_asha_a_free_slot_continues_the_best_paused_work_before_starting_a_new_trial(study: optuna.Study):
    asha = Asha(min_resource=1, reduction_factor=2)  # rungs at epochs 1, 2 and 4 (the last)
    executor, tracker = ScriptedExecutor(scheduled(study, asha, epochs=4)), RecordingTracker()
    orchestrator = make_orchestrator(study, executor, tracker, n_trials=4, n_jobs=2, schedule=asha)
    orchestrator.run()
    trials = study.get_trials(deepcopy=False)
    continued = {int(t.user_attrs["continues"]): t.number for t in trials if "continues" in t.user_attrs}
    works = [t for t in trials if t.number not in continued]
    assert sorted(max(t.intermediate_values) for t in works) == [1, 1, 2, 4]  # 4 drawn, halved at each rung
    assert len(trials) - len(continued) == 4 and executor.most_running == 2
    (best,) = [t for t in trials if t.state == TrialState.COMPLETE]
    best_x = max(t.params["x"] for t in trials)  # its values are x * epoch: the largest x leads every rung
    assert best.params["x"] == best_x and sorted(best.intermediate_values) == [1, 2, 3, 4]
    for paused, continuation in continued.items():  # each went on in its work's run, from its checkpoint
        job = next(job for job in executor.submitted if job.context.trial_number == continuation)
        assert job.context.run_id == trials[paused].user_attrs[RUN_ID_ATTR] and job.context.attempt == 1
    assert orchestrator.counts["COMPLETE"] == 1 and orchestrator.counts["PAUSED"] == 3


def test_a_trial_left_running_as_it_paused_waits_at_its_rung_instead_of_going_on(study: optuna.Study) -> None:
    left = study.ask()  # the sweep was killed as the trial paused: its checkpoint is written, its end not recorded
    left.suggest_float("x", 0, 1)
    left.report(0.5, 1)
    left.set_user_attr(PAUSED_ATTR, 0)
    left.set_user_attr(JOB_ID_ATTR, "4242")
    executor, tracker = ScriptedExecutor(), RecordingTracker()
    orchestrator = make_orchestrator(study, executor, tracker, n_trials=1, schedule=Asha())
    orchestrator.run()
    assert states(study) == ["PRUNED"] and executor.cancelled == ["4242"] and not executor.submitted
    assert study.trials[0].user_attrs["prune_reason"] == "paused at rung 0"
    assert orchestrator.counts["PAUSED"] == 1 and not orchestrator.counts.get("INTERRUPTED")


def test_under_pbt_the_population_starts_first_and_each_generation_goes_on_together(study: optuna.Study):
    pbt = Pbt(interval=1, quantile=0.25, resample_probability=0.0)
    executor, tracker = ScriptedExecutor(scheduled(study, pbt, epochs=3)), RecordingTracker()
    orchestrator = make_orchestrator(study, executor, tracker, n_trials=4, n_jobs=2, schedule=pbt)
    orchestrator.run()
    trials = study.get_trials(deepcopy=False)
    assert [t.number for t in trials if "continues" not in t.user_attrs] == [0, 1, 2, 3]  # the members, first
    generations = [t.user_attrs.get(PBT_GENERATION_ATTR, 1) for t in trials]
    assert generations == sorted(generations) == [1] * 4 + [2] * 4 + [3] * 4  # none goes on before all arrive
    assert [t.state for t in trials].count(TrialState.COMPLETE) == 4 and executor.most_running == 2
    exploits = [t for t in trials if PBT_PARENT_ATTR in t.user_attrs]
    assert not exploits  # the scripted trials write no checkpoint: each member goes on from its own, as it says
    assert orchestrator.counts["COMPLETE"] == 4 and not orchestrator.counts["PAUSED"]
    history = [(run, step) for run, metrics, tags, step in tracker.lineage if "pbt/x" in metrics]
    assert sorted(history) == sorted((f"run-{m}", step) for m in range(4) for step in (1, 2, 3))


def test_work_whose_last_trial_was_stopped_as_it_started_goes_on_with_all_the_values_and_the_run_before(
    study: optuna.Study,
):
    first = study.ask()
    first.suggest_float("x", 0, 1)
    first.report(0.5, 1)
    first.set_user_attr(RUN_ID_ATTR, "run-of-0")
    first.set_user_attr(PAUSED_ATTR, 0)
    study.tell(first, state=TrialState.PRUNED)
    study.enqueue_trial(first.params, user_attrs={"continues": 0})
    stopped = study.ask()  # killed between being asked and taking up its work: no values, no run
    stopped.set_user_attr(INTERRUPTED_ATTR, True)
    study.tell(stopped, state=TrialState.FAIL)
    executor, tracker = ScriptedExecutor(scheduled(study, Asha(), epochs=2)), RecordingTracker()
    make_orchestrator(study, executor, tracker, n_trials=1, n_jobs=1, schedule=Asha()).run()
    last = study.trials[-1]
    assert last.user_attrs["continues"] == 1 and last.state == TrialState.COMPLETE
    assert sorted(last.intermediate_values) == [1, 2] and last.user_attrs[RUN_ID_ATTR] == "run-of-0"
