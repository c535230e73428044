"""A trial as the orchestrator sees it: in flight (its Optuna trial, overrides, MLflow run and attempts), or ended as
the study recorded it, and whether that end was its own doing."""

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import Trial, TrialState

from sweepwise.study.records import (
    FAIL_REASON_ATTR,
    INTERRUPTED_ATTR,
    PBT_GENERATION_ATTR,
    PBT_PARENT_ATTR,
    PRUNE_REASON_ATTR,
)
from sweepwise.study.trials import continued_numbers
from sweepwise.sweep.driver.param_grammar import readable
from sweepwise.sweep.outcome import INTERRUPTED, TrialOutcome, TrialStatus
from sweepwise.tracking.secrets import redact_overrides
from sweepwise.trial_facts import CHECKPOINTS


@dataclass
class Flight:
    """A trial in flight: its Optuna trial, overrides, MLflow run and how many times it was started."""

    trial: Trial
    overrides: list[str]
    run_id: str | None = None
    attempt: int = 0
    started: float = field(default_factory=time.time)
    # the trial number whose folder the job runs in: its own, or that of the interrupted trial it continues
    folder: int | None = None

    @property
    def work_folder(self) -> int:
        """The trial number that names the folder of the trial's work (see `folder`)."""
        return self.trial.number if self.folder is None else self.folder


def started_line(flight: Flight, where: str, work_folder: Path | None) -> str:
    """The line that says a trial started (`where`: as which job), how it goes on if it continues earlier work
    (whose folder is `work_folder`, where known), and its overrides."""
    again = f" (attempt {flight.attempt + 1})" if flight.attempt else ""
    if flight.folder is not None:
        again = f" ({continuing_note(flight.trial.user_attrs, flight.folder, work_folder)})"
    return f"trial {flight.trial.number} started{where}{again}: {readable(redact_overrides(flight.overrides))}"


def continuing_note(attrs: Mapping[str, Any], folder: int, work_folder: Path | None = None) -> str:
    """How a trial that continues the work of trial `folder` goes on (`attrs`: its user attributes): from the
    checkpoint the work left in its folder, or over again where it left none (stopped before its first)."""
    if PBT_GENERATION_ATTR not in attrs:
        if work_folder is not None and work_folder.is_dir() and not _has_files(work_folder / CHECKPOINTS):
            return f"continuing trial {folder}'s work, which left no checkpoint: from the start, in its folder and run"
        return f"continuing trial {folder}'s work from its checkpoint: its params, folder and MLflow run"
    parent = attrs.get(PBT_PARENT_ATTR)
    source = "its own checkpoint" if parent is None else f"trial {parent}'s checkpoint, with its params explored"
    return f"member {folder}'s generation {attrs[PBT_GENERATION_ATTR]}, which began from {source}"


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(path.is_file() for path in folder.rglob("*"))


def is_interrupted(trial: optuna.trial.FrozenTrial) -> bool:
    """A FAIL that was not the trial's own doing (a stopped sweep, a lost tracking server): it is run again."""
    return trial.state == TrialState.FAIL and bool(trial.user_attrs.get(INTERRUPTED_ATTR))


def results(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The ended trials that count toward `n_trials`: not interrupted (their work is run again), and not paused
    work that a later trial continues (that trial's end is the work's)."""
    continued = continued_numbers(trials)
    return [t for t in trials if t.state.is_finished() and not is_interrupted(t) and t.number not in continued]


def recorded_outcome(trial: optuna.trial.FrozenTrial) -> TrialOutcome:
    """How a finished trial ended, as the study recorded it."""
    reason = trial.user_attrs.get(FAIL_REASON_ATTR if trial.state == TrialState.FAIL else PRUNE_REASON_ATTR, "")
    values = tuple(trial.values) if trial.state == TrialState.COMPLETE else None
    return TrialOutcome(TrialStatus(trial.state.name), values=values, reason=str(reason))


def interrupted(reason: str) -> TrialOutcome:
    """The FAIL recorded for a trial that was interrupted (see `is_interrupted`)."""
    return TrialOutcome(TrialStatus.FAIL, reason=f"{INTERRUPTED}{reason}")


def mark_interrupted(trial: Trial, outcome: TrialOutcome) -> None:
    """Record why the trial was interrupted, so that a resumed sweep runs its work again."""
    trial.set_user_attr(FAIL_REASON_ATTR, outcome.reason)
    trial.set_user_attr(INTERRUPTED_ATTR, True)


def run_params(trial: Trial | optuna.trial.FrozenTrial, fixed: dict[str, Any]) -> dict[str, Any]:
    """The trial's params, as its MLflow run records them and its code reads them: the searched values and the
    values the fixed overrides set (typed as the config has them: `epochs=8` is 8)."""
    return {**trial.params, **fixed}
