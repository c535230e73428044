"""A sweep's preflight: the recipe's checks on its base config, run before the study or its parent run is written
(a config error they meet leaves nothing behind), then logged on the parent run and recorded on the study. A re-run
whose config and code match a preflight that passed (or only warned) does not repeat it: a resumed or finished
study starts at once."""

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig

from sweepwise.recipe.preflight import log_preflight, preflight_fingerprint, run_preflight
from sweepwise.recipe.report import FAIL, CheckResult, PreflightFailed, failure_message, overall_status
from sweepwise.study.records import PREFLIGHT_ATTR
from sweepwise.sweep.tracker import SweepTracker


@dataclass
class SweepPreflight:
    fingerprint: str
    results: list[CheckResult] | None = None  # None: an earlier preflight of the same config and code stands
    files: list[Path] = field(default_factory=list)

    @classmethod
    def run(cls, base: DictConfig, folder: Path, existing: optuna.Study | None) -> "SweepPreflight":
        fingerprint = preflight_fingerprint(base)
        earlier: dict[str, Any] | None = existing.user_attrs.get(PREFLIGHT_ATTR) if existing else None
        if earlier and earlier["fingerprint"] == fingerprint:
            print(
                f"preflight: {earlier['status']} on {earlier['when']} for this config and code, not run again "
                f"(reports in {folder})"
            )
            return cls(fingerprint)
        results, files = run_preflight(base, folder)
        print(f"preflight reports: {folder} (and on the sweep's parent run)")
        return cls(fingerprint, results, files)

    def record(self, study: optuna.Study, tracker: SweepTracker, fail: bool) -> None:
        """Log the checks on the parent run; a preflight that did not fail is recorded on the study; a FAIL stops
        the sweep when `fail`."""
        if self.results is None:
            return
        tracker.writer.call(log_preflight, tracker.client, tracker.parent_run_id, self.results, self.files)
        status = overall_status(self.results)
        if status != FAIL:
            when = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
            study.set_user_attr(PREFLIGHT_ATTR, {"fingerprint": self.fingerprint, "status": status, "when": when})
        elif fail:
            raise PreflightFailed(failure_message(self.results))
