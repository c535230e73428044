"""The preflight of the default configuration (digits, convnet): every check, and how long they take.

Goal: under 30 s on 2 CPU cores. Prints each repeat's seconds (the checks in-process, without imports or
MLflow) and the statuses; last, the ratio of the median time to the 30 s budget (goal: < 1).

    python bench/preflight.py [--repeats 3] [extra overrides, e.g. model=resnet]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compose_config

from sweepwise.recipe.preflight import run_preflight

BUDGET_SECONDS = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args, overrides = parser.parse_known_args()
    seconds = []
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            cfg = compose_config([f"output_dir={folder}", *overrides])
            started = time.perf_counter()
            results = run_preflight(cfg, Path(folder)).results
            seconds.append(time.perf_counter() - started)
        counts = {status: sum(r.status == status for r in results) for status in sorted({r.status for r in results})}
        print(f"repeat {repeat + 1}: {seconds[-1]:.1f} s, {counts}")
    median = statistics.median(seconds)
    print(f"median {median:.1f} s for {len(results)} checks")
    print(f"ratio of the preflight time to the {BUDGET_SECONDS:.0f} s budget: {median / BUDGET_SECONDS:.2f}")


if __name__ == "__main__":
    main()
