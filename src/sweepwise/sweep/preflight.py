"""A sweep's preflight: the recipe's checks on its base config, run before the study or its parent run is written
(a config error they meet leaves nothing behind), then logged on the parent run and recorded on the study. A re-run
whose config and code match a preflight that passed (or only warned) does not repeat it: a resumed or finished
study starts at once."""

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig

from sweepwise.recipe.preflight import PreflightReport, log_preflight, preflight_fingerprint, run_preflight
from sweepwise.recipe.report import FAIL, PreflightFailed, failure_message, overall_status
from sweepwise.study.records import PREFLIGHT_ATTR
from sweepwise.sweep.tracker import SweepTracker


@dataclass
class SweepPreflight:
    fingerprint: str
    report: PreflightReport | None = None  # None: an earlier preflight of the same config and code stands

    @classmethod
    def run(
        cls, base: DictConfig, folder: Path, existing: optuna.Study | None, trials: int, slots: int
    ) -> "SweepPreflight":
        fingerprint = preflight_fingerprint(base)
        earlier: dict[str, Any] | None = existing.user_attrs.get(PREFLIGHT_ATTR) if existing else None
        if earlier and earlier["fingerprint"] == fingerprint:
            print(
                f"preflight: {earlier['status']} on {earlier['when']} for this config and code, not run again "
                f"(reports in {folder})"
            )
            return cls(fingerprint)
        report = run_preflight(base, folder)
        print(f"preflight reports: {folder} (and on the sweep's parent run)")
        if report.seconds_per_step is not None:
            print(cost_estimate(report.seconds_per_step, report.planned_steps, trials, slots))
        return cls(fingerprint, report)

    def record(self, study: optuna.Study, tracker: SweepTracker, fail: bool) -> None:
        """Log the checks on the parent run; a preflight that did not fail is recorded on the study; a FAIL stops
        the sweep when `fail`."""
        if self.report is None:
            return
        results = self.report.results
        tracker.writer.call(log_preflight, tracker.client, tracker.parent_run_id, results, self.report.files)
        status = overall_status(results)
        if status != FAIL:
            when = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
            study.set_user_attr(PREFLIGHT_ATTR, {"fingerprint": self.fingerprint, "status": status, "when": when})
        elif fail:
            raise PreflightFailed(failure_message(results))


def cost_estimate(seconds_per_step: float, steps: int, trials: int, slots: int) -> str:
    """The sweep's compute at most (every trial runs its planned steps at the base config's step time)."""
    total = seconds_per_step * steps * trials
    return (
        f"estimated sweep cost: {trials} trials x {steps} steps x {seconds_per_step * 1000:.1f} ms = "
        f"{_duration(total)} of compute, ~{_duration(total / max(1, min(slots, trials)))} with {slots} at a time "
        "(at most: pruning and early stopping end trials sooner; other batch sizes and models cost otherwise)"
    )


def _duration(seconds: float) -> str:
    return (
        f"{seconds:.0f} s"
        if seconds < 120
        else (f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h")
    )
