"""Slot utilisation of a sweep: 4 slots, 40 trials with heavy-tailed (lognormal, 0.2-3 s) durations.

utilisation = busy slot-time / (slots x wall time), wall time from the first trial's start to the last trial's
end, busy time as measured inside the trial processes (composing the job's config, Hydra's job set-up and the
task). The sweep runs the toy task of tests/apps through the `optuna` sweeper with MLflow and the journal
storage on, as a user would. For the same durations in the same order it also prints two references computed
with zero overhead: the batch-synchronous figure (hydra-optuna-sweeper asks n_jobs trials, then waits for all
of them) and the ideal greedy figure (a free slot starts the next trial at once), which is below 1 because the
last long trials leave other slots idle. Each seed draws new durations; the mean utilisation over the seeds is
printed last. Goal: >= 0.9.

    python bench/slot_utilization.py [--trials 40] [--slots 4] [--seeds 5]
"""

import argparse
import heapq
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import optuna

from sweepwise.sweep.storage import open_storage

TOY = Path(__file__).resolve().parent.parent / "tests" / "apps" / "toy.py"


def durations(count: int, seed: int) -> list[float]:
    """Lognormal durations (median 0.7 s, sigma 0.8) clipped to [0.2, 3] s."""
    rng = np.random.default_rng(seed)
    return [round(float(d), 3) for d in np.clip(rng.lognormal(np.log(0.7), 0.8, count), 0.2, 3.0)]


def batch_synchronous(times: list[float], slots: int) -> float:
    """Utilisation when each batch of `slots` trials waits for its slowest."""
    batches = [times[start : start + slots] for start in range(0, len(times), slots)]
    return sum(times) / (slots * sum(max(batch) for batch in batches))


def greedy(times: list[float], slots: int) -> float:
    """Utilisation when each trial starts, in order, the moment a slot is free."""
    free_at = [0.0] * slots
    for duration in times:
        heapq.heappush(free_at, heapq.heappop(free_at) + duration)
    return sum(times) / (slots * max(free_at))


def measure(planned: list[float], slots: int) -> tuple[float, float]:
    """(utilisation, wall seconds) of one sweep of the toy task over `planned` durations."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable, str(TOY), "-m",
            f"hydra.sweeper.n_trials={len(planned)}", f"hydra.sweeper.n_jobs={slots}",
            "hydra.sweeper.study_name=slots", f"durations=[{','.join(map(str, planned))}]",
        ]  # fmt: skip
        subprocess.run(command, cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        storage = open_storage(str(Path(folder) / "studies" / "slots.journal"))
        trials = optuna.load_study(study_name="slots", storage=storage).trials
    starts = [t.user_attrs["ran"][0] for t in trials]
    ends = [t.user_attrs["ran"][1] for t in trials]
    busy = sum(end - start for start, end in zip(starts, ends, strict=True))
    wall = max(ends) - min(starts)
    return busy / (slots * wall), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    measured = []
    for seed in range(args.seeds):
        planned = durations(args.trials, seed)
        utilisation, wall = measure(planned, args.slots)
        measured.append(utilisation)
        print(
            f"seed {seed}: work {sum(planned):.1f} s, wall {wall:.1f} s, utilisation {utilisation:.3f} "
            f"(zero-overhead greedy {greedy(planned, args.slots):.3f}, "
            f"batch-synchronous {batch_synchronous(planned, args.slots):.3f})"
        )
    batch = statistics.mean(batch_synchronous(durations(args.trials, seed), args.slots) for seed in range(args.seeds))
    print(f"mean batch-synchronous utilisation (hydra-optuna-sweeper's batching): {batch:.3f}")
    print(f"mean slot utilisation over {args.seeds} seeds: {statistics.mean(measured):.3f}")


if __name__ == "__main__":
    main()
