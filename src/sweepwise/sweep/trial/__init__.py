"""What runs inside a trial's process (a worker process or a SLURM job): the runner that composes the job's config
and decides its outcome (`trial_runner`), the job's config composed from a cached composition (`trial_compose`),
the task function found again where it is defined (`script_task`), what the sweep tells the trial
(`trial_context`), the trial's MLflow run (`child_runs`) and the `Trial` the task is handed
(`sweep_session`)."""
