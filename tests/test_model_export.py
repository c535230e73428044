"""Logging a model leaves MLflow's process-wide store setting as it found it: MLflow writes it to the
MLFLOW_TRACKING_URI variable, which every process started afterwards would inherit and log to."""

import os
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient
from torch import nn

from sweepwise.tracking.model_export import log_pytorch_model


@pytest.mark.parametrize("before", [None, "sqlite:///elsewhere.db"])
def test_logging_a_model_puts_the_tracking_uri_variable_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: str | None
) -> None:
    if before is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", before)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("export"))
    logged = log_pytorch_model(uri, run.info.run_id, nn.Linear(3, 2), torch.zeros(1, 3))
    assert logged.uri.startswith("models:/")

    assert os.environ.get("MLFLOW_TRACKING_URI") == before
