"""A trial's storage id, Optuna's private `_trial_id`. Guarded by `tests/test_optuna_internals.py`, which compares
it with the public route on each kind of storage sweepwise uses.

The sweep hands each trial process its trial's id (for `optuna.trial.Trial(study, trial_id)`), and a resumed
sweep rebuilds live trials from frozen ones. Neither `Trial` nor `FrozenTrial` has a public accessor for the id;
the public route, `BaseStorage.get_trial_id_from_study_id_trial_number`, costs a storage round trip per trial
(a database query on RDB storages) and needs the study's storage, which `Study` does not expose either.
"""

from optuna.trial import FrozenTrial, Trial


def trial_id(trial: Trial | FrozenTrial) -> int:
    """The id under which the study's storage keeps `trial`."""
    return trial._trial_id
