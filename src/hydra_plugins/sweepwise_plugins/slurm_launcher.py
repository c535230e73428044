"""The `slurm` Hydra launcher: each job is a SLURM job submitted through submitit (see `sweepwise.sweep`)."""

from hydra_plugins.sweepwise_plugins.local_launcher import ExecutorLauncher


class SlurmLauncher(ExecutorLauncher):
    """Each job as its own SLURM job, `array_parallelism` at a time; a sweep keeps `n_jobs` trials in flight."""
