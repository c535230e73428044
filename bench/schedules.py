"""Schedules that reuse work against today's default: random search with median pruning, asha with pausing, and
population-based training, on the language-model task (character-level, the standard library's documentation),
the same search space (`sweeps=pbt`: learning rate, weight decay, dropout), slots and seeds.

Each seed runs the sweep through `train.py` once per schedule, in a fresh folder. The default draws `--trials`
configurations of `--epochs` epochs each; pbt trains a population of as many (the same epoch budget, none stopped);
asha draws `--asha-trials` (more: its pauses spend fewer epochs on each). Printed per run: the best
val/bits_per_token, the epochs trained (each piece of work counted once, to the last epoch it reached) and the wall
time; then, per schedule, the mean best over the seeds with its standard error, the mean epochs and their ratio to
the default's, and each schedule's best minus the default's with the standard error of that difference. Goal: asha
or pbt reaches the default's best in at most half its epochs, or a better best in as many.

    python bench/schedules.py [--seeds 3] [--trials 8] [--asha-trials 24] [--epochs 9] [--jobs 2] [--max-chars N]
        [OVERRIDE ...]   # train.py overrides for every sweep, e.g. data.context=32 trainer.batch_size=32
"""

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import optuna

from sweepwise.study.records import CONTINUES_ATTR
from sweepwise.study.storage import open_storage

TRAIN = Path(__file__).resolve().parent.parent / "train.py"
STUDY = "pbt"


@dataclass(frozen=True)
class Result:
    best: float
    epochs: int
    wall_s: float


def epochs_trained(study: optuna.Study) -> int:
    """The epochs of every piece of work, each once: a continued trial's values are its work's, copied on."""
    continued = {int(t.user_attrs[CONTINUES_ATTR]) for t in study.trials if CONTINUES_ATTR in t.user_attrs}
    return sum(max(t.intermediate_values, default=0) for t in study.trials if t.number not in continued)


def sweep(schedule: str, seed: int, trials: int, args: argparse.Namespace) -> Result:
    overrides = {
        "median": ["hydra/sweeper/pruner=median", "hydra/sweeper/schedule=none"],
        "asha": ["hydra/sweeper/schedule=asha", f"hydra.sweeper.schedule.reduction_factor={args.reduction_factor}"],
        "pbt": ["hydra/sweeper/schedule=pbt", f"hydra.sweeper.schedule.interval={args.interval}"],
    }[schedule]
    data = [f"data.max_chars={args.max_chars}"] if args.max_chars else []
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable, str(TRAIN), "sweeps=pbt", *overrides, *data, f"hydra.sweeper.sampler.seed={seed}",
            f"hydra.sweeper.n_trials={trials}", f"hydra.sweeper.n_jobs={args.jobs}", f"trainer.epochs={args.epochs}",
            "trainer.progress=off", "recipe.preflight=off", "tracking.log_model=false", *args.overrides,
        ]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        storage = open_storage(str(Path(folder) / "studies" / f"{STUDY}.journal"))
        study = optuna.load_study(study_name=STUDY, storage=storage)
        return Result(study.best_value, epochs_trained(study), wall)


def summary(name: str, results: list[Result], baseline: list[Result]) -> str:
    bests = [result.best for result in results]
    se = statistics.stdev(bests) / math.sqrt(len(bests)) if len(bests) > 1 else float("nan")
    epochs = statistics.mean(result.epochs for result in results)
    ratio = epochs / statistics.mean(result.epochs for result in baseline)
    wall = statistics.mean(result.wall_s for result in results)
    return (
        f"{name:7} best val/bits_per_token {statistics.mean(bests):.4f} +- {se:.4f} (SE over seeds), "
        f"epochs {epochs:.1f} ({ratio:.2f} of median's), wall {wall:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--asha-trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--reduction-factor", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--interval", type=int, default=1, help="pbt's epochs per generation")
    parser.add_argument("--max-chars", type=int, default=None, help="the corpus's first N characters (all: none)")
    parser.add_argument("overrides", nargs="*", help="train.py overrides for every sweep")
    args = parser.parse_args()
    runs: dict[str, list[Result]] = {"median": [], "asha": [], "pbt": []}
    for seed in range(args.seeds):
        for name in runs:
            result = sweep(name, seed, args.asha_trials if name == "asha" else args.trials, args)
            runs[name].append(result)
            print(
                f"seed {seed} {name:7} best {result.best:.4f}, {result.epochs} epochs, {result.wall_s:.0f} s",
                flush=True,
            )
    for name, results in runs.items():
        print(summary(name, results, runs["median"]))
    for name in ("asha", "pbt"):
        differences = [mine.best - median.best for mine, median in zip(runs[name], runs["median"], strict=True)]
        se = statistics.stdev(differences) / math.sqrt(len(differences)) if len(differences) > 1 else float("nan")
        gain = f"{statistics.mean(differences):+.4f} +- {se:.4f}"
        print(f"{name} - median, best val/bits_per_token (lower is better): {gain}")


if __name__ == "__main__":
    main()
