"""`sweepwise.internals.optuna_internals` against Optuna's public path: a trial's id, asked or frozen, is the id the
study's storage gives for its number (`BaseStorage.get_trial_id_from_study_id_trial_number`), on every kind of
storage a sweep uses, with two studies sharing the storage so that ids and numbers differ."""

from pathlib import Path

import optuna
import pytest
from optuna.storages import BaseStorage, InMemoryStorage
from optuna.trial import Trial

from sweepwise.internals.optuna_internals import trial_id
from sweepwise.study.storage import open_storage


@pytest.fixture(params=["in-memory", "journal", "sqlite"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> BaseStorage:
    if request.param == "in-memory":
        return InMemoryStorage()
    return open_storage(str(tmp_path / "study.log") if request.param == "journal" else f"sqlite:///{tmp_path}/s.db")


def test_trial_id_is_the_storages_id_for_its_number(storage: BaseStorage):
    studies = [optuna.create_study(study_name=name, storage=storage) for name in ("first", "second")]
    asked = [study.ask() for _ in range(3) for study in studies]
    for trial in asked:
        trial.study.tell(trial, 1.0)
    for study in studies:
        study_id = storage.get_study_id_from_name(study.study_name)
        mine = [trial for trial in asked if trial.study is study]
        for trial, frozen in zip(mine, study.get_trials(), strict=True):
            expected = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            assert trial_id(trial) == trial_id(frozen) == expected
            assert Trial(study, trial_id(frozen)).number == frozen.number
    assert len({trial_id(trial) for trial in asked}) == len(asked)
    assert any(trial_id(trial) != trial.number for trial in asked)
