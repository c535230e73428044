"""How trials are started and watched: the `Executor` protocol the driver runs them through, persistent worker
processes on this machine (`worker_pool`, placed on GPUs by `gpu_placement`), SLURM jobs through submitit
(`slurm_executor`, asking what `slurm_requests` says, packed by `slurm_packs`, requeued by `slurm_requeue`), and the
executor a `hydra.launcher` config names (`executor_choice`)."""
