"""The preflight: the recipe's stage-2 checks on a config, with regularisation off, before any real training.

Each check reports PASS / WARN / FAIL (or N/A) with its measured value beside its criterion, in a terminal
table, `preflight.json` and `preflight.md`, and in MLflow (a metric and a tag per check, the reports and plots
as artifacts). A sweep runs it once on its base config before the first trial; a FAIL stops the sweep unless
`recipe.preflight=warn`.
"""

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, cast

from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag
from omegaconf import DictConfig, OmegaConf

from sweepwise.errors import SweepwiseError, TrainingDiverged, first_line
from sweepwise.recipe import (
    budget_checks,
    data_checks,
    gradient_checks,
    learning_rate_checks,
    model_checks,
    sequence_checks,
    target_checks,
    training_checks,
)
from sweepwise.recipe.pipeline import Pipeline
from sweepwise.recipe.report import (
    FAIL,
    CheckResult,
    failure_message,
    overall_status,
    print_table,
    slug,
    write_reports,
)
from sweepwise.spec.run import RunSpec
from sweepwise.tracking.provenance import code_version

# where the checks write and how they print: not what they check
FINGERPRINT_IGNORES = ("output_dir", "tracking", "mode", "recipe.preflight", "trainer.progress")
# checks that show learning within a budget at the configured rate: when the pipeline was seen learning at a
# higher rate, their FAIL is slow learning (a WARN)
LEARNING_CHECKS = ("training loss decreases", "input-independent baseline", "dumb baselines")
# checks that return (result, something more: a file, a rate): a crash is (FAIL, None)
PAIR_CHECKS = (
    model_checks.batch_entering_the_model,
    training_checks.schedule_over_planned_steps,
    learning_rate_checks.lr_range_test,
    learning_rate_checks.overfit_one_batch,
)


@dataclass(frozen=True)
class PreflightReport:
    results: list[CheckResult]
    files: list[Path]  # the reports, the config checked and the plots
    seconds_per_step: float | None  # a step of the config's real training (None when its runs crashed)
    planned_steps: int  # the config's planned optimiser steps
    cuda_peak_mb: float | None = None  # CUDA memory its training allocated at most (None off CUDA)


def run_preflight(cfg: DictConfig, folder: Path, spec: RunSpec | None = None) -> PreflightReport:
    """Run every check on `cfg` (`spec`: `cfg` checked, built when not given) and write the reports and plots to
    `folder`."""
    started = time.perf_counter()
    pipeline = Pipeline.build(cfg, spec)
    seed, recipe = pipeline.settings.seed, pipeline.spec.recipe
    budget_steps, range_steps = recipe.budget_steps, recipe.lr_range_steps
    overfit_samples, overfit_steps = recipe.overfit_samples, recipe.overfit_steps
    batch_check, grid = guarded(
        "batch entering the model", model_checks.batch_entering_the_model, pipeline, seed, folder
    )
    schedule_check, schedule_plot = guarded(
        "learning-rate schedule", training_checks.schedule_over_planned_steps, pipeline, folder
    )
    curve = guarded("learning-rate range test", learning_rate_checks.range_curve, pipeline, seed, range_steps)
    range_check, range_plot = curve, None  # the range test crashed: no evidence either way, no rate to try
    learning_rate, rate_to_try = None, None
    if isinstance(curve, learning_rate_checks.RangeCurve):
        range_check, range_plot = guarded(
            "learning-rate range test", learning_rate_checks.lr_range_test, pipeline, curve, folder
        )
        learning_rate = curve.learning_rate_for(pipeline.learning_rate)
        rate_to_try = curve.rate_to_try(pipeline.learning_rate)
    overfit, memorised_at = guarded(
        "overfit one batch",
        learning_rate_checks.overfit_one_batch,
        pipeline,
        seed,
        overfit_samples,
        overfit_steps,
        rate_to_try,
    )
    faster = learning_rate_checks.faster_rate(learning_rate, memorised_at)
    runs = guarded("the short training runs", budget_checks.budget_runs, pipeline, seed, budget_steps)
    trained = {
        name: learning_rate_checks.slow_not_broken(result, pipeline.learning_rate, faster)
        if name in LEARNING_CHECKS
        else result
        for name, result in trained_checks(pipeline, runs).items()
    }
    results = [
        guarded("seed reproducibility", training_checks.seed_reproducibility, pipeline, seed, budget_losses(runs)),
        guarded("whole-set evaluation", training_checks.whole_set_evaluation, pipeline, seed),
        guarded("loss at init", model_checks.loss_at_init, pipeline, seed),
        guarded("final-layer bias from priors", model_checks.final_bias_from_priors, pipeline, seed),
        trained["loss stays finite"],
        trained["dumb baselines"],
        trained["input-independent baseline"],
        trained["train and validation agree"],
        overfit,
        trained["training loss decreases"],
        range_check,
        batch_check,
        guarded("batch independence (backprop)", model_checks.batch_independence, pipeline, seed),
        guarded("per-sample loop = batched forward", model_checks.per_sample_equals_batched, pipeline, seed),
        guarded("evaluation is deterministic", data_checks.deterministic_evaluation, pipeline, seed),
        guarded("gradient flow", gradient_checks.gradient_flow, pipeline, seed),
        guarded("train/validation overlap", data_checks.split_overlap, pipeline, seed),
        guarded("batches mix classes", data_checks.batches_mix_classes, pipeline, seed),
        guarded("targets standardised", target_checks.targets_standardised, pipeline, seed),
        guarded("causal mask (no future tokens)", sequence_checks.no_future_tokens, pipeline, seed),
        guarded("targets are the next tokens", sequence_checks.targets_are_next_tokens, pipeline, seed),
        trained["output range covers the targets"],
        schedule_check,
        trained["planned run long enough"],
        trained["step time and memory"],
    ]
    print_table(results, title=f"preflight ({time.perf_counter() - started:.1f} s, regularisation off)")
    config_file = folder / "preflight_config.yaml"
    config_file.write_text(OmegaConf.to_yaml(pipeline.cfg))
    plots = [path for path in (schedule_plot, grid, range_plot) if path is not None]
    files = [*write_reports(results, folder), config_file, *plots]
    if isinstance(runs, budget_checks.BudgetRuns):
        return PreflightReport(results, files, runs.seconds_per_step, pipeline.planned_steps, runs.cuda_peak_mb)
    return PreflightReport(results, files, None, pipeline.planned_steps)


def preflight_fingerprint(cfg: DictConfig) -> str:
    """A digest of what the checks depend on: the config they run on and the code (see `code_version`)."""
    plain = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
    for key in FINGERPRINT_IGNORES:
        *parents, last = key.split(".")
        node = plain
        for parent in parents:
            node = node.get(parent) or {}
        node.pop(last, None)
    text = json.dumps(plain, sort_keys=True, default=str) + code_version() + _data_on_disk(plain.get("data"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _data_on_disk(data: Any) -> str:
    """The size and modification time of the file or folder the data is read from (`data.path`, `data.root`):
    the same config on a file that changed since (rows added, a column shuffled) is not the data checked."""
    if not isinstance(data, dict):
        return ""
    stamps = []
    for key in ("path", "root"):
        location = Path(str(data.get(key) or "")).expanduser()
        if data.get(key) and location.exists():
            status = location.stat()
            stamps.append(f"{key}:{status.st_size}:{status.st_mtime_ns}")
    return ";".join(stamps)


def trained_checks(pipeline: Pipeline, runs: budget_checks.BudgetRuns | CheckResult) -> dict[str, CheckResult]:
    """The checks built on the two short training runs (real and zeroed inputs); all fail if the runs crashed."""
    checks: dict[str, Callable[..., CheckResult]] = {
        "loss stays finite": budget_checks.finite_loss,
        "dumb baselines": partial(budget_checks.dumb_baselines, pipeline),
        "input-independent baseline": budget_checks.input_independent_baseline,
        "train and validation agree": budget_checks.train_validation_agree,
        "training loss decreases": budget_checks.decreasing_loss,
        "planned run long enough": partial(budget_checks.planned_budget, pipeline),
        "step time and memory": partial(budget_checks.step_cost, pipeline),
        "output range covers the targets": lambda runs: target_checks.output_range(runs.val_predictions, runs.steps),
    }
    if isinstance(runs, CheckResult):
        return {name: replace(runs, name=name) for name in checks}
    return {name: guarded(name, check, runs) for name, check in checks.items()}


def budget_losses(runs: budget_checks.BudgetRuns | CheckResult) -> list[float] | None:
    """The real budget run's step losses, for the checks that can read them instead of training again; None when
    it crashed or diverged."""
    return runs.losses if isinstance(runs, budget_checks.BudgetRuns) and runs.real is not None else None


def guarded(name: str, check: Callable[..., Any], *args: Any) -> Any:
    """Run a check; one that raises is a FAIL saying what it raised (for checks that also return a file, with
    None as the file)."""
    try:
        return check(*args)
    except SweepwiseError as error:
        if not isinstance(error, TrainingDiverged):
            raise  # a config error: not the pipeline's behaviour
        return _failed(name, check, error)
    except Exception as error:
        return _failed(name, check, error)


def _failed(name: str, check: Callable[..., Any], error: Exception) -> Any:
    failed = CheckResult(name, FAIL, f"raised {type(error).__name__}: {first_line(error)}", "runs", str(error))
    return (failed, None) if check in PAIR_CHECKS else failed


def log_preflight(
    client: MlflowClient,
    run_id: str,
    results: Sequence[CheckResult],
    files: Sequence[Path],
    variant: str = "",
) -> None:
    """A metric (the measured value) and a tag (the status) per check, the overall status, and the files; a
    `variant` (e.g. `model_mlp`, one model family of a sweep) keeps its own under `preflight/<variant>/`."""
    now = int(time.time() * 1000)
    metric, tag = ("preflight/" + (f"{variant}/" if variant else ""), "preflight." + (f"{variant}." if variant else ""))
    metrics = [Metric(f"{metric}{slug(r.name)}", r.value, now, 0) for r in results if r.value is not None]
    tags = [RunTag(f"{tag}{slug(r.name)}", r.status) for r in results]
    tags.append(RunTag(f"{tag}status", overall_status(results)))
    client.log_batch(run_id, metrics=metrics, tags=tags)
    for path in files:
        client.log_artifact(run_id, str(path), artifact_path=metric.rstrip("/"))


def run_standalone(cfg: DictConfig, spec: RunSpec) -> int:
    """`python train.py mode=preflight`: the checks in `<output_dir>/preflight` and an MLflow run of their own;
    the exit code is 1 when a check failed."""
    from sweepwise.tracking.mlflow_run import MlflowRun, now_ms, resolve_tracking_uri
    from sweepwise.tracking.provenance import provenance_tags

    started = now_ms()
    folder = Path(cfg.output_dir) / "preflight"
    report = run_preflight(cfg, folder, spec)
    results, files = report.results, report.files
    run = MlflowRun.start(
        uri=resolve_tracking_uri(spec.tracking.uri),
        experiment=spec.tracking.experiment,
        run_name="preflight",
        tags={**provenance_tags(()), "sweepwise.role": "preflight"},
        start_time=started,
    )
    log_preflight(run.client, run.run_id, results, files)
    failed = overall_status(results) == FAIL
    run.finish("FAILED" if failed else "FINISHED")
    print(f"reports: {folder} (preflight.md, preflight.json, plots); MLflow run {run.run_id}")
    if failed:
        print(failure_message(results))
    return 1 if failed else 0
