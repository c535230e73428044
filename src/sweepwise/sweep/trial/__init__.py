"""What runs inside a trial's process (a worker process or a SLURM job): the runner that composes the job's config
and decides its outcome (`trial_runner`), Hydra's job set-up without its whole-config copies (`hydra_job`,
`trial_compose`), what the sweep tells the trial (`trial_context`), the trial's MLflow run (`child_runs`) and the
session the training run is handed (`sweep_session`)."""
