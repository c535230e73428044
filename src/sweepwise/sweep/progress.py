"""The sweep on the terminal: a live status line (plain lines when not a terminal) and a table of top trials."""

import sys
from collections.abc import Mapping

import optuna
from optuna.trial import TrialState
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text


def status_line(counts: Mapping[str, int], n_trials: int, best: str) -> str:
    return (
        f"sweep: {counts.get('COMPLETE', 0)} complete, {counts.get('RUNNING', 0)} running, "
        f"{counts.get('PRUNED', 0)} pruned, {counts.get('FAIL', 0)} failed of {n_trials} | best {best}"
    )


class SweepProgress:
    """`complete / running / pruned / failed of n_trials, best so far`, redrawn as trials start and end."""

    def __init__(self, n_trials: int, live: bool | None = None) -> None:
        self.n_trials = n_trials
        self.console = Console(soft_wrap=True)
        self.live = (
            Live(console=self.console, auto_refresh=False) if (live is None and sys.stdout.isatty()) or live else None
        )
        if self.live:
            self.live.start()
        self.last = ""

    def event(self, message: str) -> None:
        """A line about one trial (started, ended, retried), printed above the status line."""
        if self.live:
            self.console.print(message, highlight=False, markup=False)
        else:
            print(message, flush=True)

    def update(self, counts: Mapping[str, int], best: str) -> None:
        line = status_line(counts, self.n_trials, best)
        if line == self.last:
            return
        self.last = line
        if self.live:
            self.live.update(Text(line, style="bold"), refresh=True)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.live:
            self.live.stop()


def top_trials_table(study: optuna.Study, limit: int = 5) -> Table:
    """The best complete trials (by the first objective) with their values and parameters."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    reverse = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    ranked = sorted(complete, key=lambda trial: trial.values[0], reverse=reverse)[:limit]
    names = sorted({name for trial in ranked for name in trial.params})
    table = Table(title=f"top {len(ranked)} of {len(complete)} complete trials in study {study.study_name}")
    table.add_column("trial", justify="right")
    for index in range(len(study.directions)):
        table.add_column("value" if len(study.directions) == 1 else f"value {index}", justify="right")
    for name in names:
        table.add_column(name)
    for trial in ranked:
        values = [f"{value:.4g}" for value in trial.values]
        table.add_row(str(trial.number), *values, *(_short(trial.params.get(name)) for name in names))
    return table


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
