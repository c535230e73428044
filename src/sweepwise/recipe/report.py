"""Check results and the preflight report: a terminal table, JSON and Markdown."""

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sweepwise.errors import SweepwiseError

PASS, WARN, FAIL, NOT_APPLICABLE = "PASS", "WARN", "FAIL", "N/A"
STYLES = {PASS: "green", WARN: "yellow", FAIL: "bold red", NOT_APPLICABLE: "dim"}


@dataclass(frozen=True)
class CheckResult:
    """One check: its status, what it measured beside what it asked for, and what a failure usually means."""

    name: str
    status: str
    measured: str
    criterion: str
    meaning: str = ""  # what a FAIL (or WARN) usually means
    value: float | None = None  # the measured number, logged as an MLflow metric

    @property
    def failed(self) -> bool:
        return self.status == FAIL


def slug(name: str) -> str:
    """A name as an MLflow key: `batch independence (backprop)` -> `batch_independence_backprop`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def verdict(ok: bool, warn: bool = False) -> str:
    return PASS if ok else (WARN if warn else FAIL)


def print_table(results: Sequence[CheckResult], title: str = "preflight") -> None:
    table = Table(title=title, title_justify="left")
    for column in ("check", "status", "measured", "criterion"):
        table.add_column(column, overflow="fold")
    for result in results:
        status = f"[{STYLES[result.status]}]{result.status}[/]"
        table.add_row(result.name, status, result.measured, result.criterion)
    Console(soft_wrap=True).print(table)


def write_reports(results: Sequence[CheckResult], folder: Path) -> list[Path]:
    """`preflight.json` and `preflight.md` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    as_json = folder / "preflight.json"
    as_json.write_text(json.dumps([asdict(result) for result in results], indent=2))
    lines = ["# Preflight", "", "| check | status | measured | criterion |", "|---|---|---|---|"]
    lines += [f"| {_cell(r.name)} | {r.status} | {_cell(r.measured)} | {_cell(r.criterion)} |" for r in results]
    problems = [r for r in results if r.status in (FAIL, WARN) and r.meaning]
    if problems:
        lines += ["", "## What the failures usually mean", ""]
        lines += [f"- **{r.name}** ({r.status}): {r.meaning}" for r in problems]
    as_markdown = folder / "preflight.md"
    as_markdown.write_text("\n".join(lines) + "\n")
    return [as_json, as_markdown]


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a bare `|` (as in `|mean|`) would end the cell and break the row."""
    return text.replace("|", "\\|")


class PreflightFailed(SweepwiseError):
    """A preflight check failed."""


def overall_status(results: Sequence[CheckResult]) -> str:
    statuses = {result.status for result in results}
    return FAIL if FAIL in statuses else (WARN if WARN in statuses else "PASS")


def failure_message(results: Sequence[CheckResult]) -> str:
    """One line: the failed checks, what each usually means, and how to go on anyway."""
    failed = [f"{r.name} ({r.measured}; {r.meaning})" for r in results if r.failed]
    return (
        f"preflight failed {len(failed)} check(s): " + "; ".join(failed) + ". Fix the pipeline, or run with "
        "recipe.preflight=warn to go on anyway"
    )
