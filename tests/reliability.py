"""The reliability report: fault, load and bad-input tests record what they did, what happened and what was lost.

`make reliability` runs them with SWEEPWISE_RELIABILITY_REPORT=docs/reliability.md, and the session writes the
rows of the tests that passed as that file's tables, so the report says only what the tests measured.
"""

import os
from dataclasses import dataclass
from pathlib import Path

REPORT_VARIABLE = "SWEEPWISE_RELIABILITY_REPORT"
SECTIONS = {
    "load": ("Concurrent writers", "Load"),
    "fault": ("Faults", "Fault"),
    "bad input": ("Bad input", "Input"),
}


@dataclass(frozen=True)
class Row:
    section: str
    case: str
    happened: str
    lost: str


ROWS: list[Row] = []


def record(section: str, case: str, happened: str, lost: str = "nothing") -> None:
    """Note a passed case; call it after the test's assertions, so a failing test records nothing."""
    assert section in SECTIONS, section
    ROWS.append(Row(section, case, happened, lost))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_report(path: Path) -> None:
    """The recorded rows as markdown tables, one per section, in the order the tests ran."""
    lines = [
        "# Reliability",
        "",
        "What sweepwise does under load, under faults and with bad input, as measured by the tests that are",
        "marked `reliability`. This file is written by those tests: `make reliability` regenerates it.",
        "",
    ]
    for section, (title, column) in SECTIONS.items():
        rows = [row for row in ROWS if row.section == section]
        if not rows:
            continue
        lines += [f"## {title} ({len(rows)})", "", f"| {column} | What happened | What was lost |", "|---|---|---|"]
        lines += [f"| {_cell(row.case)} | {_cell(row.happened)} | {_cell(row.lost)} |" for row in rows]
        lines.append("")
    path.write_text("\n".join(lines))


def report_path() -> Path | None:
    value = os.environ.get(REPORT_VARIABLE)
    return Path(value) if value else None
