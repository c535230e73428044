"""sweepwise's Hydra plugins: the `optuna` sweeper and the `local` process-pool launcher."""
