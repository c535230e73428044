"""The default configuration (digits, convnet, Adam 3e-4, cosine): training time and validation accuracy.

Goal: val/acc >= 0.97 in under 60 s of training on 2 CPU cores. Prints the training seconds (optimiser steps and
per-epoch evaluation, without imports or MLflow) and the best val/acc +- SE; last, the ratio of the training time
to the 60 s budget (goal: < 1).

    python bench/default_run.py [extra overrides, e.g. trainer.device=cuda]
"""

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import build_trainer, compose_config

from sweepwise.training.runtime import resolve_device

BUDGET_SECONDS = 60.0


def main() -> None:
    cfg = compose_config(["trainer.checkpoint_dir=null", "output_dir=/tmp/sweepwise-bench", *sys.argv[1:]])
    device = resolve_device(cfg.trainer.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    trainer = build_trainer(cfg, device)
    started = time.perf_counter()
    state = trainer.fit()
    seconds = time.perf_counter() - started
    best = state.history[state.best_epoch - 1]
    first_97 = next((row["epoch"] for row in state.history if row["val/acc"] >= 0.97), None)
    print(f"epochs {state.epoch}, steps {state.step}, training {seconds:.1f} s")
    print(f"best val/acc {best['val/acc']:.4f} +- {best['val/acc_se']:.4f} at epoch {state.best_epoch}")
    print(f"first epoch with val/acc >= 0.97: {first_97}")
    print(f"time ratio (training seconds / {BUDGET_SECONDS:.0f} s budget): {seconds / BUDGET_SECONDS:.3f}")


if __name__ == "__main__":
    main()
