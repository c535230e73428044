"""What a local trial worker imports before its first trial, imported once, by the fork server its workers are
forked from: the trial runner (MLflow, Hydra, Optuna's storages) and MLflow's database store, which a trial's
child run opens. Not the task's own modules, nor CUDA; torch only through `torch_imports`, where the task trains
with it, with one thread.

What they created is then frozen out of the garbage collector: no worker's collections walk it, and the server's
own exit (when the sweep ends) skips the full collections that took 0.7 s, which a command's caller waits for
while the server holds its output open."""

import gc

from sweepwise.sweep.trial.trial_runner import TrialRunner
from sweepwise.tracking.mlflow_run import import_database_store

__all__ = ["TrialRunner"]

import_database_store()
gc.freeze()
