"""What logging a sweep's best model as an MLflow PyTorch model costs, for each shipped model on digits.

Each model is built as a sweep's trial builds it (default widths, seed 0) and logged the way a sweep logs its best
trial's model (exported graph, signature, input example) to a fresh local store: its size and the time taken.

    .venv/bin/python bench/model_export.py
"""

import tempfile
import time
from pathlib import Path

import torch
from common import build_parts, compose_config
from rich.console import Console
from rich.table import Table

from sweepwise.tracking.mlflow_run import MlflowRun
from sweepwise.tracking.model_export import log_pytorch_model

MODELS = ("convnet", "resnet", "mlp", "linear")


def main() -> None:
    table = Table(title="best model as an MLflow PyTorch model (digits, CPU)")
    for column in ("model", "parameters", "MB", "seconds"):
        table.add_column(column)
    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{Path(folder) / 'mlflow.db'}"
        for name in MODELS:
            data, model, _ = build_parts(compose_config([f"model={name}"]), torch.device("cpu"))
            example = next(iter(data.val_batches(2)))[0]
            run = MlflowRun.start(uri=uri, experiment="export", run_name=name, tags={})
            started = time.perf_counter()
            logged = log_pytorch_model(uri, run.run_id, model.eval(), example)
            seconds = time.perf_counter() - started
            run.finish()
            parameters = sum(p.numel() for p in model.parameters())
            table.add_row(name, f"{parameters:,}", f"{logged.size_bytes / 1e6:.2f}", f"{seconds:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
