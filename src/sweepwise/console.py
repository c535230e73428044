"""Terminal output: a live progress bar on a terminal, one plain line per epoch otherwise, and a summary table."""

import sys
import time
from collections.abc import Mapping
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

REFRESH_SECONDS = 0.2


def format_metrics(metrics: Mapping[str, float]) -> str:
    return "  ".join(f"{key} {value:.4g}" for key, value in metrics.items())


class SilentProgress:
    """Shows nothing."""

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        pass

    def advance(self, step: int, loss: torch.Tensor, lr: float) -> None:
        pass

    def end_epoch(self, metrics: Mapping[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress(SilentProgress):
    """One line per epoch: for logs, pipes and SLURM output files."""

    def __init__(self) -> None:
        self.epoch, self.epochs = 0, 0

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self.epoch, self.epochs = epoch, epochs

    def end_epoch(self, metrics: Mapping[str, float]) -> None:
        print(f"epoch {self.epoch}/{self.epochs}  {format_metrics(metrics)}", flush=True)


class BarProgress:
    """A rich progress bar per epoch showing step, loss, lr and samples/s, refreshed a few times a second."""

    def __init__(self, batch_size: int, console: Console | None = None) -> None:
        self.batch_size = batch_size
        self.console = console or Console()
        self.bar = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("step {task.fields[step]}  loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[rate]}"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.bar.start()
        self.task: TaskID | None = None
        self.done, self.last_refresh, self.epoch_started = 0, 0.0, 0.0

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        self.done, self.epoch_started = 0, time.perf_counter()
        fields: dict[str, Any] = {"epoch": f"{epoch}/{epochs}", "step": 0, "loss": "-", "lr": "-", "rate": ""}
        self.task = self.bar.add_task("train", total=steps, **fields)

    def advance(self, step: int, loss: torch.Tensor, lr: float) -> None:
        self.done += 1
        now = time.perf_counter()
        if now - self.last_refresh < REFRESH_SECONDS:
            return
        self.last_refresh = now
        rate = self.done * self.batch_size / max(now - self.epoch_started, 1e-9)
        assert self.task is not None  # set by start_epoch
        self.bar.update(
            self.task,
            completed=self.done,
            step=step,
            loss=f"{loss.item():.4f}",
            lr=f"{lr:.2e}",
            rate=f"{rate:.0f}/s",
        )

    def end_epoch(self, metrics: Mapping[str, float]) -> None:
        assert self.task is not None  # set by start_epoch
        self.bar.update(self.task, completed=self.done, loss=f"{metrics['train/loss']:.4f}")
        self.bar.console.print(format_metrics(metrics), highlight=False)

    def close(self) -> None:
        self.bar.stop()


def make_progress(mode: str, batch_size: int) -> SilentProgress | BarProgress:
    """`auto` draws a bar on a terminal and plain lines elsewhere; `bar` and `plain` force one; `off` prints none
    (`trainer.progress`, one of `spec.schema.PROGRESS_MODES`)."""
    if mode == "bar" or (mode == "auto" and sys.stdout.isatty()):
        return BarProgress(batch_size)
    return SilentProgress() if mode == "off" else PlainProgress()


def print_summary(title: str, rows: Mapping[str, object]) -> None:
    """A two-column table of the run's headline numbers."""
    table = Table(title=title, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in rows.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    Console().print(table)
