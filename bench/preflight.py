"""The preflight of the default configuration (digits, convnet): every check, and how long it takes as a user
sees it.

Two figures, repeats alternating: the checks in-process (without imports or MLflow), and `train.py task=preflight`
(what `make preflight` runs) end to end, from the command to its exit: Python's imports, composing the config,
the checks, the reports and plots, and the MLflow run. Goal: a user's preflight under 15 s on 2 CPU cores. The
statuses of each repeat are printed, and last the ratio of the median end-to-end time to the 15 s budget
(goal: < 1).

    python bench/preflight.py [--repeats 3] [extra overrides, e.g. model=resnet]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compose_config

from sweepwise.recipe.preflight import run_preflight

BUDGET_SECONDS = 15.0
TRAIN = Path(__file__).resolve().parent.parent / "train.py"


def in_process(overrides: list[str]) -> tuple[float, dict[str, int], int]:
    with tempfile.TemporaryDirectory() as folder:
        cfg = compose_config([f"output_dir={folder}", *overrides])
        started = time.perf_counter()
        results = run_preflight(cfg, Path(folder)).results
        seconds = time.perf_counter() - started
    counts = {status: sum(r.status == status for r in results) for status in sorted({r.status for r in results})}
    return seconds, counts, len(results)


def as_a_user(overrides: list[str]) -> float:
    """`train.py task=preflight` in a fresh folder (its own MLflow store there), from start to exit."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        command = [sys.executable, str(TRAIN), "task=preflight", *overrides]
        subprocess.run(command, cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args, overrides = parser.parse_known_args()
    inside, end_to_end = [], []
    for repeat in range(args.repeats):
        seconds, counts, checks = in_process(overrides)
        inside.append(seconds)
        end_to_end.append(as_a_user(overrides))
        print(f"repeat {repeat + 1}: checks {inside[-1]:.1f} s in-process, {end_to_end[-1]:.1f} s as a user; {counts}")
    median = statistics.median(end_to_end)
    print(f"median {statistics.median(inside):.1f} s in-process, {median:.1f} s as a user, for {checks} checks")
    print(f"ratio of the user's preflight time to the {BUDGET_SECONDS:.0f} s budget: {median / BUDGET_SECONDS:.2f}")


if __name__ == "__main__":
    main()
