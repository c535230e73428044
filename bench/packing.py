"""Trials per hour with k trials packed on one GPU (`hydra.launcher.trials_per_gpu=k`), against k = 1 in the same
run, and the GPU's sampled utilisation while each sweep trains.

Each k runs the same sweep as a user would (`train.py -m sweeps=random_lr_wd` on GPU 0, the default convnet on
digits, preflight off), in a fresh folder. Trials per hour come from the study: finished trials over the span from
the first trial's start to the last one's end, so Python's and the sweep's start-up are left out. Utilisation is
`nvidia-smi`'s, sampled every half second over that span (absent without nvidia-smi). The ratio of each k to k=1
is printed last; the goal at k=4 is >= 2.

Without a GPU the same runs place trials on the fake id 0 and train on the CPU, which only checks that the script
works: packing helps a GPU that a small model leaves idle, not CPU cores that are already busy.

    python bench/packing.py [--per-gpu 1,2,4] [--trials 8] [--epochs 3] [extra overrides ...]
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import optuna

from sweepwise.study.storage import open_storage

TRAIN = Path(__file__).resolve().parent.parent / "train.py"
STUDY = "random_lr_wd"


class UtilisationSampler:
    """`nvidia-smi`'s GPU utilisation of GPU 0, every `period` seconds, with the time of each sample."""

    def __init__(self, period: float = 0.5) -> None:
        self.period, self.samples = period, []  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "UtilisationSampler":
        if shutil.which("nvidia-smi"):
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _sample(self) -> None:
        query = ["nvidia-smi", "-i", "0", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        while not self._stop.wait(self.period):
            answer = subprocess.run(query, capture_output=True, text=True)
            if answer.returncode == 0 and answer.stdout.strip().isdigit():
                self.samples.append((time.time(), float(answer.stdout.strip())))

    def mean_between(self, start: float, end: float) -> float | None:
        inside = [value for when, value in self.samples if start <= when <= end]
        return statistics.mean(inside) if inside else None


def packed_sweep(per_gpu: int, trials: int, epochs: int, extra: list[str]) -> tuple[float, float | None]:
    """(trials per hour, mean GPU utilisation %) of a sweep with `per_gpu` trials on GPU 0."""
    with tempfile.TemporaryDirectory() as folder, UtilisationSampler() as sampler:
        command = [
            sys.executable,
            str(TRAIN),
            "-m",
            f"sweeps={STUDY}",
            f"hydra.sweeper.n_trials={trials}",
            "hydra.launcher.gpus=[0]",
            f"hydra.launcher.trials_per_gpu={per_gpu}",
            "recipe.preflight=off",
            "trainer.progress=off",
            f"trainer.epochs={epochs}",
            *extra,
        ]
        subprocess.run(command, cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        storage = open_storage(str(Path(folder) / "studies" / f"{STUDY}.journal"))
        done = [t for t in optuna.load_study(study_name=STUDY, storage=storage).trials if t.datetime_complete]
        start = min(t.datetime_start.timestamp() for t in done if t.datetime_start)
        end = max(t.datetime_complete.timestamp() for t in done if t.datetime_complete)
        return len(done) / (end - start) * 3600, sampler.mean_between(start, end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-gpu", default="1,2,4", help="the packings to measure (the first is the baseline)")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    args, extra = parser.parse_known_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    packings = [int(k) for k in args.per_gpu.split(",")]
    rates = {}
    print(f"{args.trials} trials of {args.epochs} epochs per packing; overrides: {' '.join(extra) or 'none'}")
    print("| trials per GPU | trials/hour | GPU utilisation | ratio to the first |")
    print("|---|---|---|---|")
    for per_gpu in packings:
        rate, utilisation = packed_sweep(per_gpu, args.trials, args.epochs, extra)
        rates[per_gpu] = rate
        shown = f"{utilisation:.0f}%" if utilisation is not None else "n/a (no nvidia-smi)"
        print(f"| {per_gpu} | {rate:.0f} | {shown} | {rate / rates[packings[0]]:.2f} |", flush=True)
    last = packings[-1]
    print(f"ratio at {last} trials per GPU: {rates[last] / rates[packings[0]]:.2f} (goal at 4: >= 2)")


if __name__ == "__main__":
    main()
