"""The recipe's checks and reports (RECIPE.md) that run beside training, not inside it: the preflight of pass/fail
sanity checks before a run or a sweep, the data report (`mode=inspect`), and ensembles of a finished sweep's best
trials."""
