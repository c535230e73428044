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
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag
from omegaconf import DictConfig, OmegaConf

from sweepwise.errors import SweepwiseError, first_line
from sweepwise.recipe import model_checks, training_checks
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
from sweepwise.recipe.settings import preflight_mode
from sweepwise.tracking.provenance import code_version

# where the checks write and how they print: not what they check
FINGERPRINT_IGNORES = ("output_dir", "tracking", "task", "recipe.preflight", "trainer.progress")


def run_preflight(cfg: DictConfig, folder: Path) -> tuple[list[CheckResult], list[Path]]:
    """Run every check on `cfg` and write the reports and plots to `folder`; (results, files)."""
    started = time.perf_counter()
    pipeline = Pipeline.build(cfg)
    seed = pipeline.settings.seed
    budget_steps = int(OmegaConf.select(cfg, "recipe.budget_steps", default=150))
    overfit_samples = int(OmegaConf.select(cfg, "recipe.overfit_samples", default=16))
    overfit_steps = int(OmegaConf.select(cfg, "recipe.overfit_steps", default=500))
    batch_check, grid = guarded(
        "batch entering the model", model_checks.batch_entering_the_model, pipeline, seed, folder
    )
    schedule_check, schedule_plot = guarded(
        "learning-rate schedule", training_checks.schedule_over_planned_steps, pipeline, folder
    )
    trained = trained_checks(pipeline, seed, budget_steps)
    results = [
        guarded("seed reproducibility", training_checks.seed_reproducibility, pipeline, seed),
        guarded("whole-set evaluation", training_checks.whole_set_evaluation, pipeline, seed),
        guarded("loss at init", model_checks.loss_at_init, pipeline, seed),
        guarded("final-layer bias from priors", model_checks.final_bias_from_priors, pipeline, seed),
        trained["dumb baselines"],
        trained["input-independent baseline"],
        guarded("overfit one batch", training_checks.overfit_one_batch, pipeline, seed, overfit_samples, overfit_steps),
        trained["training loss decreases"],
        batch_check,
        guarded("batch independence (backprop)", model_checks.batch_independence, pipeline, seed),
        guarded("per-sample loop = batched forward", model_checks.per_sample_equals_batched, pipeline, seed),
        schedule_check,
    ]
    print_table(results, title=f"preflight ({time.perf_counter() - started:.1f} s, regularisation off)")
    config_file = folder / "preflight_config.yaml"
    config_file.write_text(OmegaConf.to_yaml(pipeline.cfg))
    plots = [path for path in (schedule_plot, grid) if path is not None]
    files = [*write_reports(results, folder), config_file, *plots]
    return results, files


def preflight_fingerprint(cfg: DictConfig) -> str:
    """A digest of what the checks depend on: the config they run on and the code (see `code_version`)."""
    plain = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
    for key in FINGERPRINT_IGNORES:
        *parents, last = key.split(".")
        node = plain
        for parent in parents:
            node = node.get(parent) or {}
        node.pop(last, None)
    text = json.dumps(plain, sort_keys=True, default=str) + code_version()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trained_checks(pipeline: Pipeline, seed: int, steps: int) -> dict[str, CheckResult]:
    """The checks built on the two short training runs (real and zeroed inputs); all fail if the runs crash."""
    names = ("dumb baselines", "input-independent baseline", "training loss decreases")
    runs = guarded("the short training runs", training_checks.budget_runs, pipeline, seed, steps)
    if isinstance(runs, CheckResult):
        return {name: replace(runs, name=name) for name in names}
    real, zeroed, start_loss = runs
    return {
        "dumb baselines": guarded(names[0], training_checks.dumb_baselines, pipeline, real, steps),
        "input-independent baseline": training_checks.input_independent_baseline(real, zeroed, steps),
        "training loss decreases": training_checks.decreasing_loss(real, start_loss, steps),
    }


def guarded(name: str, check: Callable[..., Any], *args: Any) -> Any:
    """Run a check; one that raises is a FAIL saying what it raised (for checks that also return a file, with
    None as the file)."""
    try:
        return check(*args)
    except SweepwiseError:
        raise  # a config error: not the pipeline's behaviour
    except Exception as error:
        failed = CheckResult(name, FAIL, f"raised {type(error).__name__}: {first_line(error)}", "runs", str(error))
        returns_file = check in (model_checks.batch_entering_the_model, training_checks.schedule_over_planned_steps)
        return (failed, None) if returns_file else failed


def log_preflight(client: MlflowClient, run_id: str, results: Sequence[CheckResult], files: Sequence[Path]) -> None:
    """A metric (the measured value) and a tag (the status) per check, the overall status, and the files."""
    now = int(time.time() * 1000)
    metrics = [Metric(f"preflight/{slug(r.name)}", r.value, now, 0) for r in results if r.value is not None]
    tags = [RunTag(f"preflight.{slug(r.name)}", r.status) for r in results]
    tags.append(RunTag("preflight.status", overall_status(results)))
    client.log_batch(run_id, metrics=metrics, tags=tags)
    for path in files:
        client.log_artifact(run_id, str(path), artifact_path="preflight")


def run_standalone(cfg: DictConfig) -> int:
    """`python train.py task=preflight`: the checks in `<output_dir>/preflight` and an MLflow run of their own;
    the exit code is 1 when a check failed."""
    from sweepwise.tracking.mlflow_run import MlflowRun, now_ms, resolve_tracking_uri
    from sweepwise.tracking.provenance import provenance_tags

    preflight_mode(cfg)  # a bad mode is an error here too, though only sweeps act on it
    started = now_ms()
    folder = Path(cfg.output_dir) / "preflight"
    results, files = run_preflight(cfg, folder)
    run = MlflowRun.start(
        uri=resolve_tracking_uri(cfg.tracking.uri),
        experiment=cfg.tracking.experiment,
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
