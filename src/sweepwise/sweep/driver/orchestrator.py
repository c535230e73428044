"""The ask -> run -> tell loop, with no batch barrier: a slot that frees up starts the next trial at once (or, under
a schedule, continues a paused trial that the schedule promotes).

Trials that raise, return NaN/inf or whose process dies end FAIL with a reason; the sweep goes on until failures
exceed `max_failure_rate` of `n_trials`. Trials a killed orchestrator left RUNNING are FAIL as interrupted on resume,
and their work goes on. A trial failed by an MLflow server that stopped answering is interrupted too: no more trials
launch, and once the running ones end the sweep stops with one line; the same command resumes it.
"""

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig
from optuna.trial import Trial, TrialState

from sweepwise.errors import SweepwiseError
from sweepwise.study.records import (
    ATTEMPTS_ATTR,
    CONTINUES_ATTR,
    FAIL_REASON_ATTR,
    JOB_ID_ATTR,
    OVERRIDES_ATTR,
    PRUNE_REASON_ATTR,
    RAN_ATTR,
    RUN_ID_ATTR,
)
from sweepwise.sweep.driver.continuations import Continuations, has_continuation
from sweepwise.sweep.driver.custom_space import custom_space_problem
from sweepwise.sweep.driver.left_running import continue_interrupted, fail_running, settle_left_running, take_up
from sweepwise.sweep.driver.param_grammar import SearchSpace, suggest, trial_overrides
from sweepwise.sweep.driver.plan import SweepSettings, failure_stop
from sweepwise.sweep.driver.progress import BestSoFar, SweepProgress, resume_line
from sweepwise.sweep.driver.rungs import is_paused
from sweepwise.sweep.driver.tracker import SweepTracker
from sweepwise.sweep.driver.trial_flights import (
    Flight,
    interrupted,
    is_interrupted,
    mark_interrupted,
    recorded_outcome,
    results,
    run_params,
    started_line,
)
from sweepwise.sweep.launch.executor import Executor
from sweepwise.sweep.outcome import Died, TrialOutcome, TrialStatus
from sweepwise.sweep.trial.trial_context import TrialContext
from sweepwise.sweep.trial.trial_runner import TrialJob
from sweepwise.tracking.retry import RESUME_HINT, TrackingUnreachable
from sweepwise.tracking.secrets import redact, redact_overrides

WAIT_SECONDS = 5.0
# trials FAIL through no fault of their own (`is_interrupted`), counted apart so every count agrees with Optuna's
INTERRUPTED, LEFT = "INTERRUPTED", "LEFT"  # LEFT: those of them a changed search space leaves uncontinued
PAUSED = "PAUSED"  # PRUNED trials a schedule paused, counted apart until a later trial continues their work


class SweepStopped(SweepwiseError):
    """Too many trials failed."""


class Orchestrator:
    def __init__(
        self,
        study: optuna.Study,
        space: SearchSpace,
        settings: SweepSettings,
        executor: Executor,
        tracker: SweepTracker,
        progress: SweepProgress,
        make_context: Callable[[Trial, dict[str, Any], str | None, int], TrialContext],
        custom_search_space: Callable[[DictConfig, Trial], Any] | None = None,
        task_config: DictConfig | None = None,
        log_file: Callable[[int], str] | None = None,
    ) -> None:
        self.study, self.space, self.settings = study, space, settings
        self.executor, self.tracker, self.progress = executor, tracker, progress
        self.make_context = make_context
        self.custom_search_space, self.task_config, self.log_file = custom_search_space, task_config, log_file
        self.in_flight: dict[int, Flight] = {}
        self.ended: list[tuple[Flight, TrialOutcome]] = []  # settled, not yet recorded
        self.counts: Counter[str] = Counter()
        self.to_launch = 0
        self.best = BestSoFar(maximize=study.directions[0] == optuna.study.StudyDirection.MAXIMIZE)
        self.stop_message = ""
        self.stopped_by: int | None = None  # the failed trial that stopped the sweep
        self.tracking_lost = ""  # why the MLflow server is taken to be gone (a trial's failure reason)
        schedule = settings.schedule
        self.continuations = (
            Continuations(study, schedule, space.distributions, tracker, progress) if schedule else None
        )

    def run(self) -> None:
        """Run trials until `n_trials` have finished in the study (or failures stop the sweep)."""
        try:
            self._resume()
            while True:
                self._fill_slots()
                self._show()
                if not self.in_flight:
                    break
                for key, result in self.executor.wait(WAIT_SECONDS):
                    self._settle(int(key), result)
                with self.progress.starts_held():  # the next trials start before the bookkeeping of those that ended
                    if self.settings.schedule is None:  # (whose ends a schedule's promotions read)
                        self._fill_slots()
                    while self.ended:
                        self._record(*self.ended[0])
                        del self.ended[0]
                self.tracker.check()
        except BaseException:
            self._abandon(interrupted("the sweep was stopped while this trial ran"))
            raise
        finally:
            self.executor.shutdown()
        if self.tracking_lost:
            raise TrackingUnreachable(f"{self.tracking_lost.removeprefix('error: ')}; {RESUME_HINT}")
        if self.stop_message:
            raise SweepStopped(self.stop_message)

    def _resume(self) -> None:
        """Count what the study already holds; trials a killed sweep left running are failed and run again, and
        every ended trial gets an ended run (an unreachable MLflow server may have kept one from ending, or from
        being created)."""
        self.in_flight.update(
            settle_left_running(self.study, self.space, self.executor, self.tracker, self.progress, self.log_file)
        )
        trials = self.study.get_trials(deepcopy=False)
        ended = [t for t in trials if t.state.is_finished()]
        if ended:
            self.tracker.match_children(
                {t.number: (recorded_outcome(t), self._params(t), t.user_attrs.get(RUN_ID_ATTR)) for t in ended}
            )
        if left := continue_interrupted(self.study, trials, self.space, self.progress):
            self.counts[LEFT] = left
        finished = results(trials)
        self.counts.update(PAUSED if is_paused(trial) else trial.state.name for trial in finished)
        self.counts[INTERRUPTED] = sum(is_interrupted(t) for t in ended)
        self.best.note_trials(finished)
        self.to_launch = max(0, self.settings.n_trials - len(finished) - len(self.in_flight))
        paused = has_continuation(trials, self.settings.schedule, self.best.maximize)  # paused work to go on
        done = self.to_launch == 0 and not self.in_flight and not paused  # (in flight: adopted jobs)
        grid = self.settings.grid_points
        if line := resume_line(self.study.study_name, finished, self.settings.n_trials, done, grid):
            self.progress.event(line)
        failed = [t for t in finished if t.state == TrialState.FAIL]  # a study its failures stopped stops so again
        if failed:
            self._check_failure_rate(failed[-1].number, str(failed[-1].user_attrs.get(FAIL_REASON_ATTR, "")))

    def _fill_slots(self) -> None:
        """Each free slot continues paused work the schedule chooses, else starts a new trial."""
        while not (self.stop_message or self.tracking_lost) and max(len(self.in_flight), self.executor.held) < (
            self.settings.n_jobs
        ):
            continuing = self.continuations and self.continuations.next(self.to_launch > 0, bool(self.in_flight))
            if continuing:  # (without a schedule, the study is not read at every launch)
                self.counts[PAUSED] -= 1
            elif self.to_launch > 0:
                self.to_launch -= 1
            else:
                break
            self._launch()
        self._dispatch()

    def _dispatch(self) -> None:
        """Start what the executor held back (trials packed into one SLURM job), noting each trial's job."""
        for job in self.executor.dispatch():
            for number, trial_job_id in job.trial_ids.items():
                self.in_flight[number].trial.set_user_attr(JOB_ID_ATTR, trial_job_id)
            trials = ", ".join(f"trial {number} as {trial_job_id}" for number, trial_job_id in job.trial_ids.items())
            self.progress.event(f"packed in {self.executor.job_kind} {job.job_id}: {trials}")

    def _launch(self) -> None:
        trial = self.study.ask()
        for name, distribution in self.space.distributions.items():
            suggest(trial, name, distribution)
        for name, value in redact(self.space.fixed).items():  # the study is read by more people than the sweep
            trial.set_user_attr(name, value)
        if self.custom_search_space is not None:
            assert self.task_config is not None  # the sweep passes its task config with a custom search space
            problem = custom_space_problem(self.custom_search_space, self.task_config, trial, self.space.fixed)
            if problem:
                trial.set_user_attr(FAIL_REASON_ATTR, f"custom_search_space {problem}")
                self.study.tell(trial, state=TrialState.FAIL)
                raise SweepStopped(f"custom_search_space {problem}")
        overrides = trial_overrides(dict(trial.params), self.space.fixed)
        trial.set_user_attr(OVERRIDES_ATTR, redact_overrides(overrides))
        flight = Flight(trial, overrides)
        if CONTINUES_ATTR in trial.user_attrs:  # interrupted or paused work, continued from its last checkpoint
            flight.folder, flight.run_id = take_up(trial, self.study, self.tracker)
            flight.attempt = 1
        self.in_flight[trial.number] = flight
        self._submit(flight)

    def _submit(self, flight: Flight) -> None:
        number, folder = flight.trial.number, flight.work_folder
        job = TrialJob(
            tuple(flight.overrides),
            folder,
            self.make_context(flight.trial, self._params(flight.trial), flight.run_id, flight.attempt),
            self.log_file(folder) if self.log_file else None,
        )
        job_id = self.executor.submit(number, job)
        if job_id is not None:
            flight.trial.set_user_attr(JOB_ID_ATTR, job_id)
        where = f" as {self.executor.job_kind} {job_id}" if job_id is not None else ""
        line = started_line(flight, where, Path(job.log_file).parent if job.log_file else None)
        self.progress.trial_started(number, line, Path(job.log_file) if job.log_file else None)

    def _settle(self, number: int, result: TrialOutcome | Died) -> None:
        """Decide what an ended job means, without I/O: resubmit it (a retry) or add its outcome, as the study
        records it, to those `ended`."""
        flight = self.in_flight.pop(number)
        if isinstance(result, Died):
            # the MLflow run its process created, read back from the study (its process is gone)
            flight.run_id = self.study.get_trials(deepcopy=False)[number].user_attrs.get(RUN_ID_ATTR)
            if flight.attempt < self.settings.retries:
                flight.attempt += 1
                flight.trial.set_user_attr(ATTEMPTS_ATTR, flight.attempt + 1)
                retry = f"retrying ({flight.attempt}/{self.settings.retries})"
                self.progress.event(f"trial {number}: {result.reason}; {retry}")
                self.in_flight[number] = flight
                self._submit(flight)
                return
            result = TrialOutcome(TrialStatus.FAIL, reason=result.reason, started=flight.started, ended=time.time())
        else:
            flight.run_id = result.run_id
        if result.status is TrialStatus.TRACKING_LOST:
            # not the trial's fault: a resumed sweep runs it again
            self.tracking_lost = result.reason
            self.progress.event(f"trial {number}: {result.reason}; launching no more trials")
            self.counts[INTERRUPTED] += 1
            result = replace(result, reason=interrupted(result.reason).reason)
        else:
            self.counts[PAUSED if result.paused else result.status] += 1
        if result.status is TrialStatus.FAIL:
            self._check_failure_rate(number, result.reason)
        self.ended.append((flight, result))

    def _record(self, flight: Flight, outcome: TrialOutcome) -> None:
        """Tell Optuna and MLflow how the trial ended."""
        trial, number = flight.trial, flight.trial.number
        trial.set_user_attr(RAN_ATTR, [outcome.started, outcome.ended])
        if outcome.status is TrialStatus.TRACKING_LOST:
            mark_interrupted(trial, outcome)
        elif outcome.reason:
            reason_attr = FAIL_REASON_ATTR if outcome.status is TrialStatus.FAIL else PRUNE_REASON_ATTR
            trial.set_user_attr(reason_attr, outcome.reason)
        values = list(outcome.values) if outcome.values is not None else None
        self.study.tell(trial, values=values, state=outcome.status.study_state)
        if outcome.values is not None and len(outcome.values) == 1:
            self.best.note(outcome.values[0], number)
        self.tracker.end_child(number, flight.run_id, outcome, self._params(trial))
        logs = [Path(self.log_file(flight.work_folder))] if self.log_file else []
        for log in logs + self.executor.log_files(number):
            if flight.run_id and log.is_file() and log.stat().st_size:
                self.tracker.log_child_artifact(flight.run_id, log)
        line = outcome.summary(number)
        if logs:
            self.progress.trial_ended(number, logs[0], line, failed=outcome.status is TrialStatus.FAIL)
        else:
            self.progress.event(line)
        if number == self.stopped_by and self.in_flight:  # told after the line of the failure that caused it;
            running = len(self.in_flight)  # the whole reason ends the sweep, in its last line
            self.progress.event(f"sweep stopping on failures: waiting for {running} running trial{'s' * (running > 1)}")

    def _params(self, trial: Trial | optuna.trial.FrozenTrial) -> dict[str, Any]:
        return run_params(trial, self.space.fixed_values)

    def _check_failure_rate(self, number: int, reason: str) -> None:
        """Stop launching once failures exceed the rate."""
        message = failure_stop(self.counts["FAIL"], self.settings, reason)
        if message and not self.stop_message:
            self.stopped_by, self.stop_message = number, message

    def _abandon(self, outcome: TrialOutcome) -> None:
        """Leave no trial RUNNING, wherever the stop caught the sweep: a trial that ended is recorded as it ended;
        any other (in flight, asked and not yet started, or ended and not yet settled) is stopped and interrupted."""
        for number in self.in_flight:
            self.executor.kill(number)
        self.in_flight.clear()
        running = {t.number for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        for flight, ended in self.ended:
            if flight.trial.number in running:
                self._record(flight, ended)
        self.counts[INTERRUPTED] += fail_running(self.study, self.tracker, outcome, self.space.fixed_values)

    def _show(self) -> None:
        self.progress.update({**self.counts, "RUNNING": len(self.in_flight)}, self.best_text())

    def best_text(self) -> str:
        if len(self.study.directions) > 1:  # no single best: the status line counts the complete trials
            return "on the Pareto front, shown at the end"
        return self.best.text()
