"""Prints the trial this process was handed (by the process that started it): number, params, run id, resuming."""

import sweepwise

trial = sweepwise.current_trial()
print(trial.number, trial.params, trial.facts.run_id, trial.resuming)
