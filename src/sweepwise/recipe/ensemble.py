"""Squeeze out the juice: the best few trials of a sweep, alone and as a softmax-averaged ensemble.

The top-k (k <= 5) COMPLETE trials' best checkpoints are evaluated on the validation set, each alone and averaged;
the gain of the ensemble over the best single model comes with the standard error of the paired difference. The
table is printed, written as `ensemble.md` / `ensemble.json` and logged to the sweep's parent run.

    python -m sweepwise.recipe.ensemble --study NAME [--k 5] [--storage PATH_OR_URL]     (or: make ensemble)
"""

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import numpy as np
import optuna
import torch
from mlflow import MlflowClient
from mlflow.entities import Metric
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.table import Table

from sweepwise import configure
from sweepwise.data import DataModule
from sweepwise.errors import ConfigError, SweepwiseError
from sweepwise.recipe.trial_models import trial_config, trial_model
from sweepwise.spec.schema import MAX_ENSEMBLE
from sweepwise.study.records import PARENT_RUN_ATTR, SWEEP_DIR_ATTR
from sweepwise.study.trials import trial_folder
from sweepwise.tasks import Classification
from sweepwise.training.runtime import resolve_device


@dataclass(frozen=True)
class Row:
    name: str
    accuracy: float
    se: float


def top_trials(study: optuna.Study, k: int) -> list[FrozenTrial]:
    if not 1 <= k <= MAX_ENSEMBLE:
        raise ConfigError("--k", k, f"must be between 1 and {MAX_ENSEMBLE}")
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(study.directions) > 1:
        raise SweepwiseError("ensembles are built from single-objective sweeps")
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    # a COMPLETE trial of one objective has its value
    return sorted(complete, key=lambda trial: cast(float, trial.value), reverse=maximize)[:k]


def _probabilities(trial_dir: Path, data: DataModule, device: torch.device) -> np.ndarray:
    """Softmax outputs of a trial's best checkpoint on the validation set."""
    model = trial_model(trial_dir, data).to(device)
    with torch.no_grad():
        return torch.cat([torch.softmax(model(x).float(), dim=1).cpu() for x, _ in data.val_batches(1024)]).numpy()


def _row(name: str, correct: np.ndarray) -> Row:
    accuracy = float(correct.mean())
    return Row(name, accuracy, math.sqrt(accuracy * (1 - accuracy) / len(correct)))


def evaluate_ensemble(study: optuna.Study, sweep_dir: Path, k: int) -> tuple[list[Row], float, float]:
    """(rows: each member, then the ensemble; gain over the best member; its standard error)."""
    members = top_trials(study, k)
    if not members:
        raise SweepwiseError(f"study {study.study_name} has no COMPLETE trial to ensemble")
    folders = [trial_folder(study, trial, sweep_dir) for trial in members]
    device = resolve_device("auto")
    config = trial_config(folders[0])
    task = configure.build_task(config)
    if not isinstance(task, Classification):
        raise SweepwiseError(f"ensembles average class probabilities: task={task.name} has none")
    data = configure.build_data(config.data, task).to(device)
    labels = torch.cat([y for _, y in data.val_batches(1024)]).cpu().numpy()
    probabilities = [_probabilities(folder, data, device) for folder in folders]
    correct = [p.argmax(axis=1) == labels for p in probabilities]
    rows = [_row(f"trial {trial.number}", hits) for trial, hits in zip(members, correct, strict=True)]
    ensemble_hits = np.mean(probabilities, axis=0).argmax(axis=1) == labels
    rows.append(_row(f"ensemble of {len(members)}", ensemble_hits))
    best = max(range(len(members)), key=lambda index: rows[index].accuracy)
    difference = ensemble_hits.astype(float) - correct[best].astype(float)
    gain_se = float(difference.std(ddof=1) / math.sqrt(len(difference))) if len(difference) > 1 else 0.0
    return rows, float(difference.mean()), gain_se


def report(rows: list[Row], gain: float, gain_se: float, folder: Path) -> list[Path]:
    table = Table(title="ensemble of the best trials (validation set)", title_justify="left")
    for column in ("model", "val/acc", "SE"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.name, f"{row.accuracy:.4f}", f"{row.se:.4f}")
    Console(soft_wrap=True).print(table)
    print(f"gain over the best single model: {gain:+.4f} +- {gain_se:.4f} (paired SE)")
    folder.mkdir(parents=True, exist_ok=True)
    as_json = folder / "ensemble.json"
    as_json.write_text(json.dumps({"rows": [asdict(r) for r in rows], "gain": gain, "gain_se": gain_se}, indent=2))
    lines = ["| model | val/acc | SE |", "|---|---|---|"] + [
        f"| {r.name} | {r.accuracy:.4f} | {r.se:.4f} |" for r in rows
    ]
    lines += ["", f"Gain over the best single model: {gain:+.4f} +- {gain_se:.4f} (paired standard error)."]
    as_markdown = folder / "ensemble.md"
    as_markdown.write_text("\n".join(lines) + "\n")
    return [as_json, as_markdown]


def log_to_parent(
    client: MlflowClient, run_id: str, rows: list[Row], gain: float, gain_se: float, files: list[Path]
) -> None:
    ensemble = rows[-1]
    client.log_batch(
        run_id,
        metrics=[
            Metric("ensemble/val_acc", ensemble.accuracy, 0, 0),
            Metric("ensemble/val_acc_se", ensemble.se, 0, 0),
            Metric("ensemble/gain", gain, 0, 0),
            Metric("ensemble/gain_se", gain_se, 0, 0),
        ],
    )
    for path in files:
        client.log_artifact(run_id, str(path), artifact_path="ensemble")


def main() -> None:
    from sweepwise.study.catalog import missing_study
    from sweepwise.study.storage import open_storage, storage_spec
    from sweepwise.tracking.mlflow_run import client_for, resolve_tracking_uri

    parser = argparse.ArgumentParser(description="the best trials of a sweep, alone and as an ensemble")
    parser.add_argument("--study", required=True)
    parser.add_argument("--k", type=int, default=MAX_ENSEMBLE)
    parser.add_argument("--storage", default=None, help="journal file or database URL (default: studies/NAME.journal)")
    parser.add_argument("--tracking-uri", default=None, help="MLflow store of the parent run (default: ./mlflow.db)")
    args = parser.parse_args()
    spec = storage_spec(args.storage, args.study, Path.cwd())
    try:
        study = optuna.load_study(study_name=args.study, storage=open_storage(spec))
    except KeyError:
        raise SystemExit(
            missing_study(args.study, Path.cwd())
            if args.storage is None
            else f"error: --study={args.study!r}: no such study in {spec}"
        ) from None
    if SWEEP_DIR_ATTR not in study.user_attrs:
        raise SystemExit(f"error: --study={args.study!r}: not a sweep of sweepwise's sweeper (no sweep folder)")
    try:
        sweep_dir = Path(study.user_attrs[SWEEP_DIR_ATTR])
        rows, gain, gain_se = evaluate_ensemble(study, sweep_dir, args.k)
        files = report(rows, gain, gain_se, sweep_dir / "ensemble")
        client = client_for(resolve_tracking_uri(args.tracking_uri))
        log_to_parent(client, study.user_attrs[PARENT_RUN_ATTR], rows, gain, gain_se, files)
    except SweepwiseError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
