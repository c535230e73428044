"""A sweep's Optuna study as sweepwise keeps it: where it is stored, and the names of what is recorded on it and
on its MLflow runs. Read by the sweep that writes it and by what reads a finished sweep (ensembles, reports)."""
