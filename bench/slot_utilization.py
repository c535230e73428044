"""Slot utilisation of a sweep: 4 slots, 40 trials with heavy-tailed (lognormal, 0.2-3 s) durations.

utilisation = busy slot-time / (slots x wall time), wall time from the first trial's start to the last trial's
end, busy time as measured inside the trial processes (composing the job's config, Hydra's job set-up and the
task). The sweep runs the toy task of tests/apps through the `optuna` sweeper with MLflow and the journal
storage on, as a user would. For the same durations in the same order it also prints two references computed
with zero overhead: the batch-synchronous figure (hydra-optuna-sweeper asks n_jobs trials, then waits for all
of them) and the ideal greedy figure (a free slot starts the next trial at once), which is below 1 because the
last long trials leave other slots idle. Each seed draws new durations; the mean utilisation over the seeds is
printed last. Goal: >= 0.9.

With --slurm every trial is a SLURM job on the cluster of SLURM_CONF (`make slurm-up`). A job's Python start-up
(~2 s) is then part of every trial whichever orchestrator submits it, so the durations are scaled up (x10 by
default: 2-30 s) and a slot counts as busy while SLURM has a job of the sweep running in it (sacct's Start to
End, whole seconds); the figure from inside the trial processes is printed beside it. What the orchestrator
controls, the gap between one job's end and the next one's start in a freed slot, is what either figure loses.

    python bench/slot_utilization.py [--trials 40] [--slots 4] [--seeds 5] [--slurm [--scale 10]]
"""

import argparse
import heapq
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import optuna

from sweepwise.study.storage import open_storage

TOY = Path(__file__).resolve().parent.parent / "tests" / "apps" / "toy.py"


ON_SLURM = [
    "hydra/launcher=slurm",
    "hydra.launcher.gpus_per_node=1",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.poll_interval_s=5",
]


def durations(count: int, seed: int, scale: float = 1.0) -> list[float]:
    """Lognormal durations (median 0.7 s, sigma 0.8) clipped to [0.2, 3] s, times `scale`."""
    rng = np.random.default_rng(seed)
    return [round(float(d) * scale, 3) for d in np.clip(rng.lognormal(np.log(0.7), 0.8, count), 0.2, 3.0)]


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


def utilisation(spans: list[tuple[float, float]], slots: int) -> tuple[float, float]:
    """(busy time / (slots x wall time), wall time) of (start, end) spans."""
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return sum(end - start for start, end in spans) / (slots * wall), wall


def allocations(job_ids: list[str]) -> list[tuple[float, float]]:
    """(start, end) of each SLURM job's allocation, from sacct (whole seconds)."""
    listed = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-j", ",".join(job_ids), "-o", "Start,End"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = (line.split("|") for line in listed.stdout.splitlines())
    return [(datetime.fromisoformat(start).timestamp(), datetime.fromisoformat(end).timestamp()) for start, end in rows]


def measure(planned: list[float], slots: int, slurm: bool) -> dict[str, tuple[float, float]]:
    """{figure: (utilisation, wall seconds)} of one sweep of the toy task over `planned` durations: measured in
    the trial processes, and with --slurm from SLURM's accounting too."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable, str(TOY), "-m",
            f"hydra.sweeper.n_trials={len(planned)}", f"hydra.sweeper.n_jobs={slots}",
            "hydra.sweeper.study_name=slots", f"durations=[{','.join(map(str, planned))}]",
            *(ON_SLURM if slurm else []),
        ]  # fmt: skip
        subprocess.run(command, cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        storage = open_storage(str(Path(folder) / "studies" / "slots.journal"))
        trials = optuna.load_study(study_name="slots", storage=storage).trials
    figures = {"in trial processes": utilisation([tuple(t.user_attrs["ran"]) for t in trials], slots)}
    if slurm:
        figures["SLURM allocations"] = utilisation(allocations([t.user_attrs["job_id"] for t in trials]), slots)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--slurm", action="store_true", help="every trial a SLURM job (cluster of SLURM_CONF)")
    parser.add_argument("--scale", type=float, default=None, help="duration factor (default 1, 10 with --slurm)")
    args = parser.parse_args()
    scale = args.scale or (10.0 if args.slurm else 1.0)
    measured: dict[str, list[float]] = {}
    for seed in range(args.seeds):
        planned = durations(args.trials, seed, scale)
        figures = measure(planned, args.slots, args.slurm)
        for name, (value, _) in figures.items():
            measured.setdefault(name, []).append(value)
        shown = ", ".join(f"{name} {value:.3f} (wall {wall:.1f} s)" for name, (value, wall) in figures.items())
        print(
            f"seed {seed}: work {sum(planned):.1f} s, utilisation {shown}; zero-overhead greedy "
            f"{greedy(planned, args.slots):.3f}, batch-synchronous {batch_synchronous(planned, args.slots):.3f}"
        )
    batch = statistics.mean(
        batch_synchronous(durations(args.trials, seed, scale), args.slots) for seed in range(args.seeds)
    )
    print(f"mean batch-synchronous utilisation (hydra-optuna-sweeper's batching): {batch:.3f}")
    *others, (name, values) = measured.items()  # the goal's figure last: SLURM's allocations with --slurm
    for other, other_values in others:
        print(f"mean slot utilisation, {other}: {statistics.mean(other_values):.3f}")
    print(f"mean slot utilisation over {args.seeds} seeds ({name}): {statistics.mean(values):.3f}")


if __name__ == "__main__":
    main()
