"""sweepwise's default regression on scikit-learn's diabetes data against scikit-learn's `RidgeCV`, on the same split.

sweepwise trains `task=regression data=diabetes model=mlp` with every other setting at its default (Adam 3e-4,
cosine, 20 epochs, batch 64), once per seed; its validation RMSE is the last epoch's (not the best epoch's, which
the validation set itself would pick). `RidgeCV` (alphas 1e-3..1e3, its own cross-validation on the training part)
is fitted on the same training rows, standardised alike, and scored on the same validation rows. The ratio of the
median RMSE over seeds to RidgeCV's is printed last (goal: at most 1.05).

    python bench/regression_baseline.py [--seeds 3] [overrides ...]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import build_trainer, compose_config

from sweepwise.data import DataModule
from sweepwise.data.diabetes import load_diabetes

ALPHAS = np.logspace(-3, 3, 13)


def ridge_rmse(data: DataModule) -> float:
    """RidgeCV on the training rows (inputs as sweepwise normalises them), scored on validation in target units."""
    from sklearn.linear_model import RidgeCV

    assert data.target_scale is not None
    scale = data.target_scale
    train_y = data.train_y.numpy() * scale.std + scale.mean
    val_y = data.val_y.numpy() * scale.std + scale.mean
    model = RidgeCV(alphas=ALPHAS).fit(data.train_x.numpy(), train_y)
    predicted = model.predict(data.val_x.numpy()).reshape(val_y.shape)  # one target comes back flat
    return float(np.sqrt(np.mean((predicted - val_y) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args, overrides = parser.parse_known_args()
    common = ["task=regression", "data=diabetes", "model=mlp", "trainer.checkpoint_dir=null",
              "output_dir=/tmp/sweepwise-bench", *overrides]  # fmt: skip
    print(f"sweepwise: {' '.join(common[:3])} {' '.join(overrides)}; torch {torch.__version__}")
    started = time.perf_counter()
    ridge = ridge_rmse(load_diabetes())
    print(f"RidgeCV: val/rmse {ridge:.2f} ({time.perf_counter() - started:.2f} s)")
    ours = []
    for seed in range(args.seeds):
        started = time.perf_counter()
        state = build_trainer(compose_config([*common, f"trainer.seed={seed}"]), torch.device("cpu")).fit()
        last = state.history[-1]
        ours.append(last["val/rmse"])
        print(
            f"seed {seed}: val/rmse {last['val/rmse']:.2f} +- {last['val/rmse_se']:.2f} (last epoch of "
            f"{state.epoch}), val/r2 {last['val/r2']:.3f}, {time.perf_counter() - started:.1f} s"
        )
    median = statistics.median(ours)
    print(f"median sweepwise val/rmse {median:.2f}, RidgeCV {ridge:.2f}")
    print(f"RMSE ratio (sweepwise / RidgeCV): {median / ridge:.3f}")


if __name__ == "__main__":
    main()
