"""Hyperparameter sweeps, layered by the process each part runs in (`make lint` holds the order):

- `driver/`: the sweep's own process. `sweeper` starts a sweep (plan, stores, preflight, study, parent run),
  `orchestrator` runs it (ask -> run -> tell, retries, failure rate, resume through `left_running`) and
  `sweep_report` ends it (results, plots, ensemble, best model, the way to the UI); `multirun` runs plain
  multiruns.
- `launch/`: how trials start and are watched: the `Executor` protocol, worker processes on this machine, SLURM
  jobs (alone or packed), and the choice between them.
- `trial/`: what runs inside a trial's process: its runner, its Hydra job, its MLflow run and the trial its
  training is handed.
- `outcome`: how a trial ended (or died), the one vocabulary every layer shares.

A file imports only from its own layer or those below it.
"""
