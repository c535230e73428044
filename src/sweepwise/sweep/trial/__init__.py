"""What runs inside a trial's process (a worker process or a SLURM job): the runner that composes the job's config
and decides its outcome (`runner`), the job's config composed from a cached composition (`compose`),
what the sweep tells the trial (`context`) and the session the training run is handed (`session`)."""
