"""Hyperparameter sweeps: search spaces, Optuna studies, trial processes, and the sweep's MLflow parent run."""
