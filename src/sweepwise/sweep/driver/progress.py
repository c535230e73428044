"""The sweep on the terminal: a live status line (plain lines when not a terminal) and a table of top trials."""

import contextlib
import math
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sweepwise.errors import first_line, hide_password
from sweepwise.study.trials import trial_label
from sweepwise.sweep.driver.trial_output import TrialOutput
from sweepwise.sweep.outcome import Died, TrialOutcome, TrialStatus


@dataclass
class BestSoFar:
    """The best value so far and its trial, kept as trials end (reading the study back each time would grow with
    it)."""

    maximize: bool
    best: tuple[float, int] | None = None

    def note(self, value: float, number: int) -> None:
        """A complete trial's value; of tied trials the lowest number is the best, as Optuna's `best_trial` says,
        whichever ended first."""
        if self.best is None or self._better((value, number), self.best):
            self.best = (value, number)

    def note_trials(self, trials: Sequence[optuna.trial.FrozenTrial]) -> None:
        """The values of the COMPLETE trials of a single-objective study."""
        for trial in trials:
            if trial.state == TrialState.COMPLETE and len(trial.values) == 1:
                self.note(trial.values[0], trial.number)

    def _better(self, new: tuple[float, int], old: tuple[float, int]) -> bool:
        if new[0] == old[0]:
            return new[1] < old[1]
        return new[0] > old[0] if self.maximize else new[0] < old[0]

    def text(self) -> str:
        return "-" if self.best is None else f"{self.best[0]:.4g} (trial {self.best[1]})"


TAIL_LINES = 10
TAIL_BYTES = 16_384


def output_tail(number: int, log: Path, lines: int = TAIL_LINES) -> str:
    """The last lines a failed trial printed (its traceback, most often), to show under its FAIL line: the reason
    alone seldom says where it failed, and the log is one more file to open."""
    if not log.is_file():
        return f"  trial {number} wrote no output ({log} is missing)"
    with open(log, "rb") as file:
        file.seek(max(0, log.stat().st_size - TAIL_BYTES))
        text = file.read().decode(errors="replace")
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    shown = "\n".join(f"  | {line}" for line in tail)
    if not tail:
        return f"  trial {number} printed nothing"
    return f"  the last lines of trial {number}'s output ({log}):\n{shown}"


def _interrupted(interrupted: int, left: int) -> str:
    """What became of the trials a stop interrupted: continued by later trials, or left where a changed search
    space no longer holds their params."""
    if not interrupted:
        return ""
    if not left:
        return f" ({interrupted} interrupted, each continued by a later trial)"
    continued = f"{interrupted - left} continued by a later trial, " if interrupted > left else ""
    return f" ({interrupted} interrupted: {continued}{left} left, outside the search space)"


def status_line(counts: Mapping[str, int], n_trials: int, best: str) -> str:
    """Counts of `n_trials`, or of the trials that ended, where a study holds more than `n_trials` asks for."""
    ended = sum(counts.get(state, 0) for state in ("COMPLETE", "PRUNED", "PAUSED", "FAIL"))
    paused = f"{counts['PAUSED']} paused, " if counts.get("PAUSED") else ""  # under a schedule: work to go on
    return (
        f"sweep: {counts.get('COMPLETE', 0)} complete, {counts.get('RUNNING', 0)} running, "
        f"{counts.get('PRUNED', 0)} pruned, {paused}{counts.get('FAIL', 0)} failed of {max(n_trials, ended)}"
        + _interrupted(counts.get("INTERRUPTED", 0), counts.get("LEFT", 0))
        + f" | best {best}"
    )


def finished_count(trials: Sequence[optuna.trial.FrozenTrial], when: str = "") -> str:
    """`3 trials finished already (2 COMPLETE, 1 FAIL)`: how many, by how they ended."""
    states = Counter(trial.state.name for trial in trials)
    by_state = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
    return f"{len(trials)} trial{'' if len(trials) == 1 else 's'} finished{when} ({by_state})"


def resume_line(
    name: str,
    finished: Sequence[optuna.trial.FrozenTrial],
    n_trials: int,
    done: bool,
    grid_points: int | None = None,
) -> str | None:
    """What a sweep says of the trials its study held as it started: none (a new study), a study with nothing left
    to `done` (a grid's, every point run: more trials would run none), or one it goes on with."""
    if not finished:
        return None
    if done and grid_points is not None and n_trials == grid_points:
        return (
            f"study {name} is complete: {finished_count(finished)}, every point of its grid of {grid_points}; a "
            "larger hydra.sweeper.n_trials runs no more: another grid is a new study (hydra.sweeper.study_name)"
        )
    if done:
        return (
            f"study {name} is complete: {finished_count(finished)}, n_trials={n_trials}; run more with a larger "
            "hydra.sweeper.n_trials, or start afresh with a new hydra.sweeper.study_name"
        )
    return f"resuming study {name}: {finished_count(finished, ' already')}"


class SweepProgress:
    """`complete / running / pruned / failed of n_trials, best so far`, redrawn as trials start and end."""

    def __init__(self, n_trials: int, live: bool | None = None, trial_output: bool = False) -> None:
        self.n_trials = n_trials
        self.console = Console(soft_wrap=True)
        self.live = (
            Live(console=self.console, auto_refresh=False) if (live is None and sys.stdout.isatty()) or live else None
        )
        if self.live:
            self.live.start()
        self.last = ""
        self.printing = threading.Lock()  # the trials' output is shown from a thread of its own
        self.trial_output = TrialOutput(self.event) if trial_output else None
        self.held_starts: list[tuple[int, str, Path | None]] | None = None  # while `starts_held`

    def event(self, message: str) -> None:
        """A line about one trial (started, ended, retried), printed above the status line (a database URL's
        password hidden)."""
        message = hide_password(message)
        with self.printing:
            if self.live:
                self.console.print(message, highlight=False, markup=False)
            else:
                print(message, flush=True)

    def trial_started(self, number: int, line: str, log: Path | None) -> None:
        """The `line` that tells a trial started (held while `starts_held`), its output followed from `log`."""
        if self.held_starts is not None:
            self.held_starts.append((number, line, log))
            return
        self.event(line)
        if self.trial_output is not None and log is not None:
            self.trial_output.follow(number, log)

    @contextlib.contextmanager
    def starts_held(self) -> Iterator[None]:
        """Trials started in the block are told after it: the next trials start before the lines of those that
        ended are written, and a start line above the line of the trial it replaced would read as both running."""
        self.held_starts = []
        try:
            yield
        finally:
            held, self.held_starts = self.held_starts, None
            for number, line, log in held:
                self.trial_started(number, line, log)

    def trial_ended(self, number: int, log: Path, line: str, failed: bool) -> None:
        """The `line` that tells how a trial ended: after the rest of its output when that is followed; else
        followed, for a failed trial, by the last lines of its output."""
        if self.trial_output is not None:
            self.trial_output.end(number)
        self.event(line)
        if self.trial_output is None and failed:
            self.event(output_tail(number, log))

    def update(self, counts: Mapping[str, int], best: str) -> None:
        line = status_line(counts, self.n_trials, best)
        if line == self.last:
            return
        self.last = line
        with self.printing:
            if self.live:
                self.live.update(Text(line, style="bold"), refresh=True)
            else:
                print(line, flush=True)

    def close(self) -> None:
        if self.trial_output is not None:
            self.trial_output.close()
        if self.live:
            self.live.stop()


def top_trials_table(study: optuna.Study, limit: int = 5) -> Table:
    """The best complete trials (by the first objective) with their values and parameters; of several objectives,
    the trials on the Pareto front (no other trial is as good in every objective and better in one)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    several = len(study.directions) > 1
    reverse = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    candidates = study.best_trials if several and complete else complete
    ranked = sorted(candidates, key=lambda trial: trial.values[0], reverse=reverse)[:limit]
    names = sorted({name for trial in ranked for name in trial.params})
    chosen = f"{len(ranked)} of the {len(candidates)} on the Pareto front" if several else f"top {len(ranked)}"
    table = Table(title=f"{chosen} of {len(complete)} complete trials in study {study.study_name}")
    table.add_column("trial", justify="right")
    for index in range(len(study.directions)):
        table.add_column("value" if len(study.directions) == 1 else f"value {index}", justify="right")
    for name in names:
        table.add_column(name)
    trials = study.get_trials(deepcopy=False)
    for trial in ranked:
        values = [f"{value:.4g}" for value in trial.values]
        table.add_row(trial_label(trial, trials), *values, *(_short(trial.params.get(name)) for name in names))
    return table


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class JobRow:
    """One job of a plain multirun as its table shows it: COMPLETE with what the task returned, or FAIL with the
    first line of its error."""

    number: int
    overrides: tuple[str, ...]
    status: str
    value: Any

    @classmethod
    def of(cls, number: int, overrides: Sequence[str], outcome: TrialOutcome | Died) -> "JobRow":
        if isinstance(outcome, Died) or outcome.status is not TrialStatus.COMPLETE:
            return cls(number, tuple(overrides), "FAIL", first_line(outcome.reason))
        value = outcome.return_value
        number_like = isinstance(value, int | float) and not isinstance(value, bool)
        return cls(number, tuple(overrides), "COMPLETE", float(value) if number_like else value)


def jobs_table(rows: Sequence[JobRow], direction: str | None) -> Table:
    """Every job of a plain multirun, complete ones ranked by their value (best first) when `direction` is
    known, then the failed ones."""

    def rank(row: JobRow) -> tuple[int, float]:
        numeric = row.status == "COMPLETE" and isinstance(row.value, float) and math.isfinite(row.value)
        if not numeric or direction is None:
            return (1 if row.status == "COMPLETE" else 2, row.number)
        return (0, -row.value if direction == "maximize" else row.value)

    complete = sum(row.status == "COMPLETE" for row in rows)
    table = Table(title=f"{len(rows)} jobs: {complete} complete, {len(rows) - complete} failed")
    table.add_column("job", justify="right")
    table.add_column("state")
    table.add_column("value", justify="right")
    table.add_column("overrides")
    for row in sorted(rows, key=rank):
        table.add_row(str(row.number), row.status, _short(row.value), " ".join(row.overrides))
    return table
