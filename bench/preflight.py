"""The preflight of the default configuration (digits, convnet): every check, and how long it takes as a user
sees it.

Two figures, repeats alternating: the checks in-process (without imports or MLflow), each timed on its own, and
`train.py mode=preflight` (what `make preflight` runs) end to end, from the command to its exit: Python's imports,
composing the config, the checks, the reports and plots, the MLflow run and the process's end. Goal: a user's
preflight under 15 s on 2 CPU cores. The statuses of each repeat are printed, then the median time of each check,
and last the ratio of the median end-to-end time to the 15 s budget (goal: < 1).

`--against REV` also times a user's preflight on the code of git revision REV, checked out in a temporary
worktree and run alternately with this tree's, so that a machine's speed of the hour weighs on both alike; its
ratio is this tree's median over REV's.

    python bench/preflight.py [--repeats 3] [--against REV] [extra overrides, e.g. model=resnet]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compose_config
from revisions import ROOT, checked_out, code_env

from sweepwise.recipe import preflight

BUDGET_SECONDS = 15.0


def in_process(overrides: list[str]) -> tuple[float, dict[str, int], dict[str, float]]:
    """(the checks' seconds, their statuses counted, the seconds of each guarded step)."""
    steps: dict[str, float] = defaultdict(float)
    unguarded = preflight.guarded

    def timed(name: str, check: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return unguarded(name, check, *args)
        finally:
            steps[f"{name} ({getattr(check, '__name__', 'partial')})"] += time.perf_counter() - started

    preflight.guarded = timed
    try:
        with tempfile.TemporaryDirectory() as folder:
            cfg = compose_config([f"output_dir={folder}", *overrides])
            started = time.perf_counter()
            results = preflight.run_preflight(cfg, Path(folder)).results
            seconds = time.perf_counter() - started
    finally:
        preflight.guarded = unguarded
    counts = {status: sum(r.status == status for r in results) for status in sorted({r.status for r in results})}
    return seconds, counts, steps


def as_a_user(code: Path, overrides: list[str]) -> float:
    """`train.py mode=preflight` of the tree at `code`, in a fresh folder (its own MLflow store there), from start
    to exit."""
    env = code_env(code)
    # a revision from before `mode` named what train.py does called it `task`
    switch = "mode" if "\nmode:" in (code / "conf" / "config.yaml").read_text() else "task"
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        command = [sys.executable, str(code / "train.py"), f"{switch}=preflight", *overrides]
        subprocess.run(command, cwd=folder, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", metavar="REV", help="also time a user's preflight on this git revision")
    args, overrides = parser.parse_known_args()
    with checked_out(args.against) as baseline:
        measure(args.repeats, overrides, baseline)


def measure(repeats: int, overrides: list[str], baseline: Path | None) -> None:
    inside, end_to_end, before = [], [], []
    per_step: dict[str, list[float]] = defaultdict(list)
    for repeat in range(repeats):
        seconds, counts, steps = in_process(overrides)
        inside.append(seconds)
        for name, spent in steps.items():
            per_step[name].append(spent)
        end_to_end.append(as_a_user(ROOT, overrides))
        line = f"repeat {repeat + 1}: checks {inside[-1]:.1f} s in-process, {end_to_end[-1]:.1f} s as a user"
        if baseline is not None:
            before.append(as_a_user(baseline, overrides))
            line += f" ({before[-1]:.1f} s on the baseline)"
        print(f"{line}; {counts}")
    print("median seconds per check, in-process:")
    for name, spent in sorted(per_step.items(), key=lambda item: -statistics.median(item[1])):
        print(f"  {statistics.median(spent):6.2f}  {name}")
    median = statistics.median(end_to_end)
    print(f"median {statistics.median(inside):.1f} s in-process, {median:.1f} s as a user, for {len(per_step)} steps")
    if before:
        print(
            f"ratio of the user's preflight time to the baseline's ({statistics.median(before):.1f} s): "
            f"{median / statistics.median(before):.2f}"
        )
    print(f"ratio of the user's preflight time to the {BUDGET_SECONDS:.0f} s budget: {median / BUDGET_SECONDS:.2f}")


if __name__ == "__main__":
    main()
