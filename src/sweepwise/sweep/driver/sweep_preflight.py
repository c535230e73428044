"""A sweep's preflight: the recipe's checks on its base config and on each model family it draws (every option
of a config group the search space chooses from, e.g. `model=choice(mlp, convnet)`), run before the study or its
parent run is written (a config error they meet leaves nothing behind), then logged on the parent run and recorded
on the study. A re-run whose configs and code match a preflight that passed (or only warned) does not repeat it:
a resumed or finished study starts at once."""

import datetime
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import CategoricalDistribution

from sweepwise.internals.omegaconf_internals import task_part
from sweepwise.recipe.preflight import PreflightReport, log_preflight, preflight_fingerprint, run_preflight
from sweepwise.recipe.report import FAIL, CheckResult, PreflightFailed, failure_message, overall_status, slug
from sweepwise.study.records import PREFLIGHT_ATTR
from sweepwise.sweep.driver.param_grammar import trial_overrides
from sweepwise.sweep.driver.plan import SweepPlan
from sweepwise.sweep.driver.tracker import SweepTracker

BASE = ""  # the variant name of the sweep's base config


@dataclass
class SweepPreflight:
    fingerprint: str
    reports: dict[str, PreflightReport] = field(default_factory=dict)  # empty: an earlier preflight stands
    # the most CUDA memory a checked config's training allocated (an earlier preflight's, when it stands)
    cuda_peak_mb: float | None = None

    @classmethod
    def run(
        cls, configs: Mapping[str, DictConfig], folder: Path, existing: optuna.Study | None, trials: int, slots: int
    ) -> "SweepPreflight":
        """Check each of `configs` (the base config under `BASE`, each family under its override, `model=mlp`)."""
        digests = "".join(f"{name}:{preflight_fingerprint(config)}" for name, config in sorted(configs.items()))
        fingerprint = hashlib.sha256(digests.encode()).hexdigest()[:16]
        earlier: dict[str, Any] | None = existing.user_attrs.get(PREFLIGHT_ATTR) if existing else None
        if earlier and earlier["fingerprint"] == fingerprint:
            print(
                f"preflight: {earlier['status']} on {earlier['when']} for this config and code, not run again "
                f"(reports in {folder})"
            )
            return cls(fingerprint, cuda_peak_mb=earlier.get("cuda_peak_mb"))
        families = (
            f" and {len(configs) - 1} model famil{'ies' if len(configs) > 2 else 'y'}" if len(configs) > 1 else ""
        )
        print(  # its checks train for seconds to minutes: the first line says what the wait is for
            f"preflight: the recipe's checks on the sweep's base config{families} before its first trial "
            "(recipe.preflight=off skips them)",
            flush=True,
        )
        reports = {}
        for name, config in configs.items():
            if name != BASE:
                print(f"preflight of the model family {name}:")
            reports[name] = run_preflight(config, folder / name if name != BASE else folder)
        print(f"preflight reports: {folder} (and on the sweep's parent run)")
        base = reports[BASE]
        if base.seconds_per_step is not None:
            print(cost_estimate(base.seconds_per_step, base.planned_steps, trials, slots))
        peaks = [report.cuda_peak_mb for report in reports.values() if report.cuda_peak_mb is not None]
        return cls(fingerprint, reports, max(peaks, default=None))

    @property
    def results(self) -> list[CheckResult]:
        """Every check of every variant, a family's named after it."""
        return [
            result if name == BASE else CheckResult(**{**vars(result), "name": f"{result.name} [{name}]"})
            for name, report in self.reports.items()
            for result in report.results
        ]

    def record(self, study: optuna.Study, tracker: SweepTracker, fail: bool) -> None:
        """Log the checks on the parent run; a preflight that did not fail is recorded on the study; a FAIL stops
        the sweep when `fail`."""
        if not self.reports:
            return
        for name, report in self.reports.items():
            variant = slug(name)
            tracker.writer.call(
                log_preflight, tracker.client, tracker.parent_run_id, report.results, report.files, variant
            )
        results = self.results
        status = overall_status(results)
        if status != FAIL:
            when = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
            record = {
                "fingerprint": self.fingerprint,
                "status": status,
                "when": when,
                "cuda_peak_mb": self.cuda_peak_mb,
            }
            study.set_user_attr(PREFLIGHT_ATTR, record)
        elif fail:
            raise PreflightFailed(failure_message(results))


def cost_estimate(seconds_per_step: float, steps: int, trials: int, slots: int) -> str:
    """The sweep's training compute if every trial runs its planned steps at the base config's step time; each
    trial's start-up (a process, its imports, the data) comes on top, which dominates small trials."""
    total = seconds_per_step * steps * trials
    return (
        f"estimated sweep cost: {trials} trials x {steps} steps x {seconds_per_step * 1000:.1f} ms = "
        f"{_duration(total)} of compute, ~{_duration(total / max(1, min(slots, trials)))} with {slots} at a time "
        "(training steps alone, each trial's start-up on top; pruning and early stopping end trials sooner; other "
        "batch sizes and models cost otherwise)"
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def preflight_sweep(
    plan: SweepPlan, config: DictConfig, hydra_context: HydraContext, existing: optuna.Study | None
) -> SweepPreflight:
    """The recipe's checks on the sweep's base config and on each model family the search space draws, unless they
    passed on these configs and this code before."""
    families = _families(plan, config)
    first = {group: options[0] for group, options in families.items()}
    configs = {BASE: _compose(plan, config, hydra_context, first)}
    for group, options in families.items():
        for option in options[1:]:
            configs[f"{group}={option}"] = _compose(plan, config, hydra_context, {**first, group: option})
    folder = plan.sweep_dir / "preflight"
    for name, variant in configs.items():
        OmegaConf.update(variant, "output_dir", str(folder / name if name != BASE else folder))
    return SweepPreflight.run(configs, folder, existing, plan.settings.n_trials, plan.settings.n_jobs)


def _families(plan: SweepPlan, config: DictConfig) -> dict[str, list[Any]]:
    """The options of each config group the search space chooses from (`model=choice(mlp, convnet)`)."""
    groups = config.hydra.runtime.choices
    return {
        name: list(distribution.choices)
        for name, distribution in plan.space.distributions.items()
        if isinstance(distribution, CategoricalDistribution) and name in groups
    }


def _compose(plan: SweepPlan, config: DictConfig, hydra_context: HydraContext, options: dict[str, Any]) -> DictConfig:
    """The sweep's config with these config-group options (the base config itself when there are none)."""
    if not options:
        return task_part(config)
    overrides = trial_overrides(options, plan.space.fixed)
    return task_part(hydra_context.config_loader.load_sweep_config(config, overrides))
