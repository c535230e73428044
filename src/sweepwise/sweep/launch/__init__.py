"""How trials are started and watched: the `Executor` protocol the orchestrator drives, persistent worker processes
on this machine (`pool`), SLURM jobs through submitit (`slurm`, requeued on preemption by `slurm_requeue`), the
executor a `hydra.launcher` config names (`choose`), and plain multiruns (`multirun`, the `local`/`slurm`
launchers' own work)."""
