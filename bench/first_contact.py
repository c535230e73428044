"""A new user's first sweep, timed against hydra-optuna-sweeper: the same Hydra app and config (`first_contact/`: a
noisy quadratic, TPE with a seed, 20 trials, `n_jobs: 2`), run by each tool in a fresh folder, alternately.

sweepwise runs it from this checkout's environment with its MLflow tracking on (a parent run and a child run per
trial in `./mlflow.db`, checked after each run); hydra-optuna-sweeper 1.2.0 runs it from a virtual environment of
its own, built once from the package index and cached in `.cache/bench/`. For each run: the wall time from the
command to its exit, and the time from the command to the first trial's start (the app appends each call's start
to `starts.txt`). Goals: the median wall ratio (sweepwise / hydra-optuna-sweeper) at most 1.25, and sweepwise's
first trial started within 3 s of the command (median).

    python bench/first_contact.py [--rounds 3] [--trials 20]
"""

import argparse
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "bench" / "first_contact" / "app.py"
OTHER_VENV = REPO / ".cache" / "bench" / "hydra-optuna-sweeper-1.2.0"
OTHER_REQUIREMENTS = ["hydra-optuna-sweeper==1.2.0", "hydra-core==1.3.8"]  # sweepwise's Hydra, for a fair start
WALL_RATIO_GOAL = 1.25
FIRST_TRIAL_GOAL_S = 3.0


@dataclass(frozen=True)
class Timing:
    wall_s: float
    first_trial_s: float

    def __str__(self) -> str:
        return f"wall {self.wall_s:5.2f} s  first trial {self.first_trial_s:5.2f} s"


def other_python() -> Path:
    """hydra-optuna-sweeper's interpreter, its environment built on first use."""
    python = OTHER_VENV / "bin" / "python"
    if not (OTHER_VENV / ".complete").exists():
        print(f"building {OTHER_VENV} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(OTHER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *OTHER_REQUIREMENTS], check=True)
        (OTHER_VENV / ".complete").write_text("")
    return python


def child_runs(store: Path) -> int:
    """The runs with a parent in sweepwise's store: one per trial, if its tracking worked."""
    with sqlite3.connect(store) as connection:
        query = "SELECT COUNT(*) FROM tags WHERE key = 'mlflow.parentRunId'"
        return int(connection.execute(query).fetchone()[0])


def timed_sweep(python: Path, trials: int, tracked: bool) -> Timing:
    """One sweep in a fresh folder, as a user types it."""
    with tempfile.TemporaryDirectory() as folder:
        command = [str(python), str(APP), "-m", f"hydra.sweeper.n_trials={trials}"]
        began, started = time.time(), time.perf_counter()
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{command} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        starts = sorted(float(line) for line in (Path(folder) / "starts.txt").read_text().split())
        if len(starts) != trials:
            raise SystemExit(f"{python}: {len(starts)} trials ran, not {trials}")
        if tracked and child_runs(Path(folder) / "mlflow.db") != trials:
            raise SystemExit(f"sweepwise's store holds {child_runs(Path(folder) / 'mlflow.db')} trial runs")
        return Timing(wall, starts[0] - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    tools = {"sweepwise": (Path(sys.executable), True), "hydra-optuna-sweeper": (other_python(), False)}
    timings: dict[str, list[Timing]] = {name: [] for name in tools}
    for round_ in range(args.rounds):
        order = list(tools) if round_ % 2 == 0 else list(reversed(tools))
        for name in order:
            python, tracked = tools[name]
            timing = timed_sweep(python, args.trials, tracked)
            timings[name].append(timing)
            print(f"round {round_ + 1} {name:21} {timing}")
    medians = {
        name: (statistics.median(t.wall_s for t in runs), statistics.median(t.first_trial_s for t in runs))
        for name, runs in timings.items()
    }
    for name, (wall, first) in medians.items():
        print(f"median  {name:21} {Timing(wall, first)}")
    ratio = medians["sweepwise"][0] / medians["hydra-optuna-sweeper"][0]
    first = medians["sweepwise"][1]
    print(f"first trial of sweepwise: {first:.2f} s (goal <= {FIRST_TRIAL_GOAL_S} s: {first <= FIRST_TRIAL_GOAL_S})")
    met = ratio <= WALL_RATIO_GOAL
    print(f"wall ratio, sweepwise / hydra-optuna-sweeper: {ratio:.2f} (goal <= {WALL_RATIO_GOAL}: {met})")


if __name__ == "__main__":
    main()
