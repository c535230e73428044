"""A new sqlite MLflow store appears whole or not at all."""

from pathlib import Path

import pytest
from mlflow import MlflowClient

from sweepwise.tracking.mlflow_run import client_for


def test_a_new_store_is_created_whole_with_nothing_left_beside_it(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = client_for(uri)
    experiment = client.create_experiment("made")
    assert MlflowClient(tracking_uri=uri).get_experiment(experiment).name == "made"
    assert sorted(path.name for path in tmp_path.iterdir() if path.suffix != "") == ["mlflow.db"]


def test_a_store_whose_creation_was_interrupted_is_not_left_half_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while MLflow creates the tables: nothing is left, and the next run creates the store afresh."""
    database = tmp_path / "mlflow.db"
    created = MlflowClient.search_experiments

    def interrupted(self: MlflowClient, *args: object, **kwargs: object) -> object:
        created(self, *args, **kwargs)  # the tables exist in the store being built ...
        raise KeyboardInterrupt  # ... and the user presses Ctrl-C before it is in place

    monkeypatch.setattr(MlflowClient, "search_experiments", interrupted)
    with pytest.raises(KeyboardInterrupt):
        client_for.__wrapped__(f"sqlite:///{database}")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    client = client_for.__wrapped__(f"sqlite:///{database}")
    assert client.get_experiment_by_name("Default") is not None and database.is_file()
