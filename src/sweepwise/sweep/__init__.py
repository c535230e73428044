"""Hyperparameter sweeps, by the process each part runs in.

Here, the driver (the sweep's own process): `sweeper` (what the `optuna` plugin runs), `plan` (the sweeper's
settings and search space, checked before anything is written), `orchestrator` (ask -> run -> tell, retries,
failure rate, resume), `tracker` (the parent run, and the end of every trial's run), and the end-of-sweep report
(`progress`, `results`, `plots`). Shared with the trial side: `outcome` (how a trial ended), `param_grammar`
(hydra-optuna-sweeper's `params` grammar as Optuna distributions) and `trial_runs` (a trial's MLflow run).

`launch/` starts trials (worker processes, SLURM jobs, plain multiruns); `trial/` runs inside a trial's process.
"""
