"""Trials a sweep leaves RUNNING. A stopping sweep fails its own as interrupted. What a killed sweep left is settled
when the same command runs again: a job still queued or running on a cluster is adopted, any other trial left
RUNNING is FAIL as interrupted, and the work of every interrupted trial is queued to go on from its last
checkpoint."""

from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import Trial, TrialState

from sweepwise.internals.optuna_internals import trial_id
from sweepwise.study.records import (
    ATTEMPTS_ATTR,
    CONTINUES_ATTR,
    JOB_ID_ATTR,
    LEFT_INTERRUPTED_ATTR,
    PAUSED_ATTR,
    PBT_LINEAGE,
    PRUNE_REASON_ATTR,
    RUN_ID_ATTR,
    RUNG_ATTR,
)
from sweepwise.study.trials import first_of_its_work, work_chain
from sweepwise.sweep.driver.param_grammar import SearchSpace, holds, trial_overrides
from sweepwise.sweep.driver.progress import SweepProgress
from sweepwise.sweep.driver.tracker import SweepTracker
from sweepwise.sweep.driver.trial_flights import Flight, interrupted, is_interrupted, mark_interrupted, run_params
from sweepwise.sweep.launch.executor import Executor
from sweepwise.sweep.outcome import PAUSED, TrialOutcome, TrialStatus


def settle_left_running(
    study: optuna.Study,
    space: SearchSpace,
    executor: Executor,
    tracker: SweepTracker,
    progress: SweepProgress,
    log_file: Callable[[int], str] | None,
) -> dict[int, Flight]:
    """Trials that a killed orchestrator left RUNNING: a job still queued or running on a cluster (or done, its
    result waiting) is adopted and watched again, and returned in flight; any other such trial is FAIL as
    interrupted (its job, if any, cancelled), and the next trials continue its work."""
    adopted: dict[int, Flight] = {}
    trials = study.get_trials(deepcopy=False)
    for trial in [t for t in trials if t.state == TrialState.RUNNING]:
        job_id = trial.user_attrs.get(JOB_ID_ATTR)
        folder = first_of_its_work(trial, trials)
        log = log_file(folder) if log_file else None
        if job_id is not None and executor.adopt(trial.number, str(job_id), log):
            overrides = trial_overrides(trial.params, space.fixed)  # stored ones are redacted
            attempt = int(trial.user_attrs.get(ATTEMPTS_ATTR, 1)) - 1
            moved = folder if folder != trial.number else None
            live = Trial(study, trial_id(trial))
            adopted[trial.number] = Flight(live, overrides, trial.user_attrs.get(RUN_ID_ATTR), attempt, folder=moved)
            progress.event(
                f"trial {trial.number}: adopted {executor.job_kind} {job_id}, left running by an earlier sweep"
            )
            continue
        if job_id is not None:
            executor.cancel_stale(str(job_id))
        outcome = interrupted("the sweep stopped before this trial ended")
        run_id = tracker.stored_run(trial.user_attrs.get(RUN_ID_ATTR))  # None where its store was lost
        ended = _fail_as_interrupted(study, trial, run_id, outcome, tracker, space.fixed_values)
        marked = "marked FAIL" if ended.interrupted else "it had paused, and waits at its rung"
        progress.event(f"trial {trial.number} was left running by an earlier sweep: {marked}")
    return adopted


def fail_running(study: optuna.Study, tracker: SweepTracker, outcome: TrialOutcome, fixed: dict[str, Any]) -> int:
    """Fail as interrupted, with `outcome`, every trial the study holds RUNNING (a stopping sweep's own: its
    claim on the study makes them so); how many there were."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    ended = [_fail_as_interrupted(study, t, t.user_attrs.get(RUN_ID_ATTR), outcome, tracker, fixed) for t in running]
    return sum(outcome.interrupted for outcome in ended)


def _fail_as_interrupted(
    study: optuna.Study,
    trial: optuna.trial.FrozenTrial,
    run_id: str | None,
    outcome: TrialOutcome,
    tracker: SweepTracker,
    fixed: dict[str, Any],
) -> TrialOutcome:
    """A trial with no `run_id` (stopped before its process recorded one) records the run found or made now, which
    the trial that continues its work shares. One that had paused at a rung as the sweep stopped (its checkpoint
    written) ends paused instead: its work waits there for the schedule, as if its end had been recorded."""
    live, params = Trial(study, trial_id(trial)), run_params(trial, fixed)
    if run_id is None and (run_id := tracker.child_run(trial.number, params)):
        live.set_user_attr(RUN_ID_ATTR, run_id)
    if PAUSED_ATTR in trial.user_attrs:
        outcome = TrialOutcome(TrialStatus.PRUNED, reason=f"{PAUSED} at rung {trial.user_attrs[PAUSED_ATTR]}")
        live.set_user_attr(PRUNE_REASON_ATTR, outcome.reason)
    else:
        mark_interrupted(live, outcome)
    study.tell(trial.number, state=outcome.status.study_state)
    tracker.end_child(trial.number, run_id, outcome, params)
    return outcome


def continue_interrupted(
    study: optuna.Study, trials: list[optuna.trial.FrozenTrial], space: SearchSpace, progress: SweepProgress
) -> int:
    """Queue every interrupted trial that nothing continues yet: the next trials asked take their params (and, at
    launch, their folder and run), so their work goes on from its last checkpoint instead of starting over with new
    params. Optuna cannot reopen a finished trial, so each continuation is a new trial linked by `continues`. Work
    whose params a changed search space no longer holds is left as it is for good: the sweep says so once and the
    study records it. Returns how many interrupted trials are left so."""
    continued = {int(t.user_attrs[CONTINUES_ATTR]) for t in trials if CONTINUES_ATTR in t.user_attrs}
    recorded: dict[str, str] = study.user_attrs.get(LEFT_INTERRUPTED_ATTR, {})
    left = dict(recorded)
    for trial in trials:
        if not is_interrupted(trial) or trial.number in continued or str(trial.number) in left:
            continue
        outside = {k: v for k, v in trial.params.items() if k in space.distributions and not holds(space, k, v)}
        if outside:
            left[str(trial.number)] = " ".join(f"{name}={value}" for name, value in outside.items())
            progress.event(
                f"trial {trial.number}'s interrupted work is not continued: the search space no longer holds "
                f"{left[str(trial.number)]}"
            )
            continue
        lineage = {key: trial.user_attrs[key] for key in PBT_LINEAGE if key in trial.user_attrs}  # its generation's
        study.enqueue_trial(trial.params, user_attrs={CONTINUES_ATTR: trial.number, **lineage})
    if left != recorded:
        study.set_user_attr(LEFT_INTERRUPTED_ATTR, left)
    return len(left)


def take_up(trial: Trial, study: optuna.Study, tracker: SweepTracker) -> tuple[int, str | None]:
    """The folder and run of the work `trial` continues (its `continues` attribute: interrupted, or paused by the
    schedule); the run learns which trial goes on in it, and `trial` gets the values that work reported, so the
    pruner (or the schedule) judges all of it, not the steps after its checkpoint."""
    trials = study.get_trials(deepcopy=False)
    earlier = trials[int(trial.user_attrs[CONTINUES_ATTR])]
    chain = work_chain(earlier, trials)  # a trial stopped as it started holds none of the work's records
    if len(study.directions) == 1:  # Optuna keeps intermediate values for one objective only
        values = {step: value for done in reversed(chain) for step, value in done.intermediate_values.items()}
        for step, value in sorted(values.items()):
            trial.report(value, step)
    rungs = [done.user_attrs[RUNG_ATTR] for done in chain if RUNG_ATTR in done.user_attrs]
    if rungs:  # the rung the work has reached, under the asha schedule
        trial.set_user_attr(RUNG_ATTR, rungs[0])
    began = chain[-1].number
    recorded = next((done.user_attrs[RUN_ID_ATTR] for done in chain if RUN_ID_ATTR in done.user_attrs), None)
    run_id = tracker.run_of(earlier.number, recorded)
    if run_id:
        trial.set_user_attr(RUN_ID_ATTR, run_id)
        tracker.mark_continued(run_id, trial.number, began)
    return began, run_id
