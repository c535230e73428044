"""`submitit_slurm` and `submitit_local` where hydra-submitit-launcher is not installed: its configs, run by
sweepwise (see `launcher_config`). A plain multirun's jobs are SLURM jobs, or submitit local jobs."""

from hydra_plugins.sweepwise_plugins.local_launcher import ExecutorLauncher


class SubmititSlurmLauncher(ExecutorLauncher):
    """Each job as its own SLURM job, `array_parallelism` at a time; a sweep keeps `n_jobs` trials in flight."""


class SubmititLocalLauncher(ExecutorLauncher):
    """Each job as a submitit local job on this machine; a sweep keeps `n_jobs` trials in flight."""
