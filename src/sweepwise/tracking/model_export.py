"""A trained model as an MLflow PyTorch model, so it can be registered, loaded and served from the UI.

The model is saved as an exported graph (`torch.export`, MLflow's `pt2` format): loading it runs no pickled code
and needs torch alone, not this package. The signature and input example come from real inputs, and the batch
dimension stays free.
"""

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from mlflow import MlflowClient
from mlflow.models import infer_signature
from torch import nn

from sweepwise.internals.mlflow_internals import import_pytorch_flavour
from sweepwise.tracking.mlflow_run import client_for, mlflow_store

# MLflow's pyfunc module (which the PyTorch flavour loads) warns when imported, about a type hint of its own: nothing
# for us to act on, and under `python -W error` it would end the sweep. Imported once here, that one warning silenced.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*Any type hint is inferred as AnyType", category=UserWarning)
    import mlflow.pyfunc  # noqa: F401  # the flavour's logging imports it

    pytorch_flavour = import_pytorch_flavour()


@dataclass(frozen=True)
class LoggedModel:
    uri: str  # models:/<model id>, what `mlflow.pytorch.load_model` and registration take
    model_id: str
    size_bytes: int


def log_pytorch_model(
    uri: str, run_id: str, model: nn.Module, example: torch.Tensor, metadata: dict[str, Any] | None = None
) -> LoggedModel:
    """Log `model` (in evaluation mode, on the CPU) on run `run_id` of the store at `uri` as `model`, with
    `metadata` in its MLmodel file (what its outputs stand for)."""
    with torch.no_grad():
        output = model(example)
    signature = infer_signature(example.numpy(), output.numpy())
    client = client_for(uri)
    # created here in the run's experiment: MLflow would otherwise file it under its default experiment
    experiment_id = client.get_run(run_id).info.experiment_id
    created = client.create_logged_model(experiment_id, name="model", source_run_id=run_id)
    with mlflow_store(uri):  # the flavour's logging reads the store from MLflow's process-wide setting
        info = pytorch_flavour.log_model(
            model,
            name="model",
            run_id=run_id,
            signature=signature,
            input_example=example.numpy(),
            pip_requirements=[f"torch=={torch.__version__}"],  # inferring them would load the model once more
            serialization_format="pt2",
            model_id=created.model_id,
            metadata=metadata,
        )
    return LoggedModel(info.model_uri, info.model_id, _artifacts_size(client, info.model_id))


def _artifacts_size(client: MlflowClient, model_id: str, path: str | None = None) -> int:
    files = client.list_logged_model_artifacts(model_id, path)
    return sum(_artifacts_size(client, model_id, f.path) if f.is_dir else (f.file_size or 0) for f in files)
