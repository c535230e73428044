"""`optimization_results.yaml` in the sweep folder, in hydra-optuna-sweeper's format."""

from pathlib import Path
from typing import Any

import optuna
from omegaconf import OmegaConf
from optuna.trial import TrialState

from sweepwise.study.trials import first_of_its_work


def write_results(study: optuna.Study, sweep_dir: Path) -> Path | None:
    """`name`, `best_params`, `best_value`, `best_trial` and its folder (one objective) or `solutions` (the Pareto
    front); None without a complete trial."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    results: dict[str, Any]
    if len(study.directions) == 1:
        best = study.best_trial
        folder = sweep_dir / str(first_of_its_work(best, study.get_trials(deepcopy=False)))
        results = {
            "name": "optuna",
            "best_params": best.params,
            "best_value": best.value,
            "best_trial": best.number,
            "best_trial_folder": str(folder),  # a continued trial's work is in the folder of the trial it began as
        }
    else:
        front = [{"params": trial.params, "values": trial.values} for trial in study.best_trials]
        results = {"name": "optuna", "solutions": front}
    sweep_dir.mkdir(parents=True, exist_ok=True)
    path = sweep_dir / "optimization_results.yaml"
    OmegaConf.save(OmegaConf.create(results), path)
    return path
