"""A small sweep of sweepwise's own training as a user runs it, this tree against another revision.

Four trials of the linear model on the synthetic data, two at once, 2 epochs each, in a fresh folder each time (its
study and MLflow store there, the best model logged at the end). Per run: the wall time from the command to its
exit, the time to the first trial's start (its `trial 0 started` line), the time from the last trial's end to the
exit (the report and the best model's export), and the CPU time of the sweep's processes together. With
`--against REV`, the tree of git revision REV runs alternately with this one (see `revisions`), and the medians'
ratios are printed (this tree's over REV's).

    python bench/small_sweep.py [--rounds 3] [--against REV] [extra overrides]
"""

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from revisions import ROOT, checked_out, code_env

SWEEP = [
    "-m",
    "sweeps=random_lr_wd",
    "data=synthetic",
    "model=linear",
    "trainer.epochs=2",
    "trainer.progress=plain",
    "recipe.preflight=off",
    "hydra.sweeper.n_trials=4",
    "hydra.sweeper.n_jobs=2",
]
ENDED = (" COMPLETE in ", " PRUNED ", " FAIL ")


@dataclass(frozen=True)
class Timing:
    wall_s: float
    first_trial_s: float
    end_s: float  # from the last trial's end to the exit
    cpu_s: float

    def __str__(self) -> str:
        return (
            f"wall {self.wall_s:5.1f} s  first trial {self.first_trial_s:5.1f} s  end {self.end_s:4.1f} s  "
            f"cpu {self.cpu_s:5.1f} s"
        )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_sweep(code: Path, overrides: list[str]) -> Timing:
    """One sweep of the tree at `code`, in a fresh folder, its output read as it comes."""
    with tempfile.TemporaryDirectory() as folder:
        cpu, started = children_cpu(), time.perf_counter()
        command = [sys.executable, str(code / "train.py"), *SWEEP, *overrides]
        sweep = subprocess.Popen(
            command, cwd=folder, env=code_env(code), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert sweep.stdout is not None
        first = last = None
        output = []
        for line in sweep.stdout:
            output.append(line)
            now = time.perf_counter() - started
            if first is None and line.startswith("trial 0 started"):
                first = now
            if line.startswith("trial ") and any(word in line for word in ENDED):
                last = now
        wall = time.perf_counter() - started
        if sweep.wait() != 0 or first is None or last is None:
            raise SystemExit(f"{command} failed:\n{''.join(output)[-3000:]}")
        return Timing(wall, first, wall - last, children_cpu() - cpu)


def median(runs: list[Timing]) -> Timing:
    return Timing(*(statistics.median(getattr(run, field.name) for run in runs) for field in fields(Timing)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", metavar="REV", help="also time the sweep on this git revision, alternately")
    args, overrides = parser.parse_known_args()
    with checked_out(args.against) as baseline:
        trees = {"this tree": ROOT, **({args.against: baseline} if baseline else {})}
        timings: dict[str, list[Timing]] = {name: [] for name in trees}
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for name in order:
                timings[name].append(timed_sweep(trees[name], overrides))
                print(f"round {round_ + 1} {name:12} {timings[name][-1]}", flush=True)
    medians = {name: median(runs) for name, runs in timings.items()}
    for name, timing in medians.items():
        print(f"median  {name:12} {timing}")
    if args.against:
        ours, theirs = medians["this tree"], medians[args.against]
        ratios = {field.name: getattr(ours, field.name) / getattr(theirs, field.name) for field in fields(Timing)}
        print("ratios, this tree / " + args.against + ": " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
