"""The best trial of a sweep as an MLflow PyTorch model on the sweep's parent run, ready to register."""

import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch

from sweepwise import configure
from sweepwise.recipe.trial_models import trial_config, trial_model
from sweepwise.study.trials import trial_folder
from sweepwise.tasks.served import normalises_inputs, raw_inputs
from sweepwise.tracking.model_export import LoggedModel, log_pytorch_model

EXAMPLE_SIZE = 2  # validation inputs kept as the model's input example


@dataclass(frozen=True)
class BestModel:
    trial: int
    logged: LoggedModel
    seconds: float
    inputs: str  # what the logged model takes, in a user's words


def log_best_model(study: optuna.Study, sweep_dir: Path, uri: str, run_id: str) -> BestModel:
    """Rebuild the best trial's model from its folder (config, best checkpoint) and log it on run `run_id`."""
    started = time.perf_counter()
    best = study.best_trial
    folder = trial_folder(study, best, sweep_dir)
    config = trial_config(folder)
    task = configure.build_task(config)
    data = configure.build_data(config.data, task).to(torch.device("cpu"))
    example = raw_inputs(data, next(iter(data.val_batches(EXAMPLE_SIZE)))[0])
    served = task.servable(trial_model(folder, data), data)
    logged = log_pytorch_model(uri, run_id, served, example, {"output_names": task.output_names(data)})
    takes = "inputs in the data's own units" if normalises_inputs(data) else "token ids (output_names: the vocabulary)"
    return BestModel(best.number, logged, time.perf_counter() - started, takes)
