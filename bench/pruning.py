"""What median pruning saves in a real random search: digits, 30 trials, with and without the median pruner.

Each seed runs the `random_lr_wd` sweep twice through `train.py` (same sampler seed, so the same trials are
drawn): once with `hydra/sweeper/pruner=median`, once with `none`. Printed per seed: training epochs run (the
epochs each trial reported) and the best val/acc with its standard error. Goal: >= 40% fewer epochs with the
pruner, and its best val/acc within one standard error of the unpruned best, where the standard error is that
of the difference of the two accuracies (each SE from the plus-four estimate, which stays above zero at 100%
accuracy). The mean fraction of epochs saved is printed last.

    python bench/pruning.py [--seeds 3] [--trials 30] [--epochs 10] [--jobs 2]
"""

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna

from sweepwise.study.storage import open_storage

TRAIN = Path(__file__).resolve().parent.parent / "train.py"
VALIDATION_SAMPLES = 360  # digits: 1797 images, 20% held out


def sweep(pruner: str, seed: int, args: argparse.Namespace) -> tuple[int, float]:
    """(epochs run over all trials, best val/acc) of one sweep."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable, str(TRAIN), "sweeps=random_lr_wd", f"hydra/sweeper/pruner={pruner}",
            f"hydra.sweeper.sampler.seed={seed}", f"hydra.sweeper.n_trials={args.trials}",
            f"hydra.sweeper.n_jobs={args.jobs}", f"trainer.epochs={args.epochs}", "trainer.progress=off",
        ]  # fmt: skip
        subprocess.run(command, cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        storage = open_storage(str(Path(folder) / "studies" / "random_lr_wd.journal"))
        study = optuna.load_study(study_name="random_lr_wd", storage=storage)
        return sum(len(trial.intermediate_values) for trial in study.trials), study.best_value


def standard_error(accuracy: float) -> float:
    """Plus-four (Agresti-Coull) standard error of an accuracy over the validation set."""
    adjusted = (accuracy * VALIDATION_SAMPLES + 2) / (VALIDATION_SAMPLES + 4)
    return math.sqrt(adjusted * (1 - adjusted) / (VALIDATION_SAMPLES + 4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    saved = []
    for seed in range(args.seeds):
        pruned_epochs, pruned_best = sweep("median", seed, args)
        full_epochs, full_best = sweep("none", seed, args)
        saved.append(1 - pruned_epochs / full_epochs)
        difference_se = math.hypot(standard_error(pruned_best), standard_error(full_best))
        tie = abs(pruned_best - full_best) <= difference_se
        print(
            f"seed {seed}: epochs {pruned_epochs} with median pruning vs {full_epochs} without "
            f"({saved[-1]:.0%} fewer); best val/acc {pruned_best:.4f} +- {standard_error(pruned_best):.4f} vs "
            f"{full_best:.4f} +- {standard_error(full_best):.4f}: difference {pruned_best - full_best:+.4f}, "
            f"{'within' if tie else 'outside'} one SE of the difference ({difference_se:.4f})"
        )
    print(f"mean fraction of epochs saved by median pruning: {statistics.mean(saved):.2f}")


if __name__ == "__main__":
    main()
