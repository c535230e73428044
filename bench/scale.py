"""Orchestration cost as a study grows: marginal time per trial, resident memory and reopen time, per storage.

One sweep of the no-op toy task per storage, as a user runs it (`tests/apps/toy.py -m hydra.sweeper.n_trials=N
hydra.sweeper.n_jobs=2`, sleep 0, in a fresh temporary folder), to the largest of `--counts`. The study lives in:

- journal: the default journal file, `<tmp>/studies/toy.journal`;
- sqlite: `sqlite:///<tmp>/optuna.db`;
- postgresql: a fresh database (created, then dropped) on the server of SWEEPWISE_POSTGRES_URL, or of the password
  file that `bash tests/cluster/postgres_up.sh` (`make db-up`) keeps; skipped, with the reason, when there is none.

The MLflow store is a sqlite file in the temporary folder (`<tmp>/mlflow.db`, the toy's default) for all three, so
that only the study's storage differs; `--mlflow-on-storage` puts PostgreSQL's MLflow runs in a fresh database of
the same server instead (the other two keep sqlite).

Measured:

- Marginal time per trial at count c: the trials' completion times (`datetime_complete`, from the study afterwards)
  sorted, and the least-squares slope of time against rank over the window of trials [c - w, c), w = max(20, c/10).
  So the figure at 3,000 is what the 2,701st to 3,000th trials each cost, start-up and final report excluded.
  Goal: the figure at the largest count within 1.2x of the one at the smallest (ratio printed, `ok` or `OVER`).
  The mean per trial between consecutive counts is printed too (how the earlier journal figures were taken).
- Resident memory: VmRSS of the orchestrator (the `toy.py -m` process) and, summed, of its descendants (the worker
  processes), read from /proc every 0.5 s while the sweep runs: the peak over the sweep, and the orchestrator's
  peak within each count's window.
- Reopen time: the same command run again on the finished study (nothing left to run: it loads the study, matches
  the MLflow runs, reports and exits), wall-clock seconds.

Earlier measurement (journal file, 2 slots): ~27 ms/trial from 100 to 1,000 trials, ~24 ms from 1,000 to 3,000,
550 MB resident, 12.7 s to reopen a finished 3,000-trial study. Run it on an otherwise idle machine; the full run
takes several minutes per storage.

    python bench/scale.py [--counts 100,1000,3000] [--storages journal,sqlite,postgresql] [--jobs 2]
                          [--mlflow-on-storage] [--out bench/out/scale.md] [--keep]
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from postgres_server import Databases, answers, server_url

from sweepwise.study.storage import open_storage

REPO = Path(__file__).resolve().parent.parent
TOY = REPO / "tests" / "apps" / "toy.py"
STUDY = "toy"  # the toy config's study name
STORAGES = ("journal", "sqlite", "postgresql")
MIN_WINDOW = 20
GOAL = 1.2
SAMPLE_EVERY = 0.5
PASSWORD = re.compile(r"://([^:/@]+):[^@/]+@")  # hidden in the logged command lines


def rss_kb(pid: int) -> int:
    """VmRSS of a process in kB; 0 when it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (the worker processes and anything they start)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class Sample:
    at: float  # time.time()
    orchestrator_kb: int
    workers_kb: int


class RssSampler(threading.Thread):
    """Samples a process's RSS and its descendants' every SAMPLE_EVERY seconds until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[Sample] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            orchestrator = rss_kb(self.pid)
            if orchestrator:
                workers = sum(rss_kb(child) for child in descendants(self.pid))
                self.samples.append(Sample(time.time(), orchestrator, workers))
            self._stop_event.wait(SAMPLE_EVERY)

    def stop(self) -> list[Sample]:
        self._stop_event.set()
        self.join()
        return self.samples


@dataclass
class Run:
    seconds: float
    samples: list[Sample]

    @property
    def peak_orchestrator_mb(self) -> float:
        return max((s.orchestrator_kb for s in self.samples), default=0) / 1024

    @property
    def peak_workers_mb(self) -> float:
        return max((s.workers_kb for s in self.samples), default=0) / 1024


def run_toy(folder: Path, overrides: list[str], log: Path) -> Run:
    """`toy.py -m OVERRIDES` in `folder`, its output appended to `log`, its RSS sampled; stops the bench if it fails."""
    command = [sys.executable, str(TOY), "-m", *overrides]
    with open(log, "a") as out:
        out.write("$ " + PASSWORD.sub(r"://\1:***@", " ".join(command)) + "\n")
        out.flush()
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        sampler = RssSampler(process.pid)
        sampler.start()
        code = process.wait()
        seconds = time.perf_counter() - started
    samples = sampler.stop()
    if code != 0:
        raise SystemExit(f"the sweep failed (exit {code}); the end of {log}:\n{log.read_text()[-4000:]}")
    return Run(seconds, samples)


def completion_times(storage: str) -> list[float]:
    """Completion times (epoch seconds) of the study's finished trials, in order."""
    study = optuna.load_study(study_name=STUDY, storage=open_storage(storage))
    return sorted(t.datetime_complete.timestamp() for t in study.get_trials(deepcopy=False) if t.datetime_complete)


def window(count: int) -> tuple[int, int]:
    """Ranks [start, stop) of the trials whose completion times give the marginal figure at `count`."""
    width = min(max(MIN_WINDOW, count // 10), count - 1)
    return count - width, count


def slope(times: list[float], start: int, stop: int) -> float:
    """Least-squares slope (seconds per trial) of completion time against rank over ranks [start, stop)."""
    ranks = range(start, stop)
    mean_rank = sum(ranks) / len(ranks)
    mean_time = sum(times[r] for r in ranks) / len(ranks)
    covariance = sum((r - mean_rank) * (times[r] - mean_time) for r in ranks)
    return covariance / sum((r - mean_rank) ** 2 for r in ranks)


@dataclass
class Result:
    storage: str
    counts: list[int]
    ms_per_trial: dict[int, float] = field(default_factory=dict)
    windows: dict[int, list[int]] = field(default_factory=dict)
    ms_per_trial_between: dict[str, float] = field(default_factory=dict)
    orchestrator_peak_mb_in_window: dict[int, float] = field(default_factory=dict)
    peak_orchestrator_mb: float = 0.0
    peak_workers_mb: float = 0.0
    end_orchestrator_mb: float = 0.0
    sweep_s: float = 0.0
    reopen_s: float = 0.0
    reopen_peak_orchestrator_mb: float = 0.0
    skipped: str | None = None

    @property
    def ratio(self) -> float | None:
        first, last = self.ms_per_trial.get(self.counts[0]), self.ms_per_trial.get(self.counts[-1])
        return last / first if first and last is not None else None


def analyse(result: Result, times: list[float], sweep: Run) -> None:
    if len(times) < result.counts[-1]:
        raise SystemExit(
            f"{result.storage}: the study has {len(times)} finished trials, fewer than {result.counts[-1]}"
        )
    for count in result.counts:
        start, stop = window(count)
        result.windows[count] = [start, stop]
        result.ms_per_trial[count] = slope(times, start, stop) * 1000
        # the orchestrator's peak while those trials ran (the nearest sample when none fell inside)
        inside = [s.orchestrator_kb for s in sweep.samples if times[start] <= s.at <= times[stop - 1]]
        if not inside and sweep.samples:
            inside = [min(sweep.samples, key=lambda s: abs(s.at - times[stop - 1])).orchestrator_kb]
        result.orchestrator_peak_mb_in_window[count] = max(inside, default=0) / 1024
    for low, high in zip(result.counts, result.counts[1:], strict=False):
        result.ms_per_trial_between[f"{low}-{high}"] = (times[high - 1] - times[low - 1]) / (high - low) * 1000
    result.peak_orchestrator_mb = sweep.peak_orchestrator_mb
    result.peak_workers_mb = sweep.peak_workers_mb
    result.end_orchestrator_mb = sweep.samples[-1].orchestrator_kb / 1024 if sweep.samples else 0.0
    result.sweep_s = sweep.seconds


@contextmanager
def study_storage(kind: str, folder: Path, mlflow_on_storage: bool) -> Iterator[tuple[str, list[str]]]:
    """(the study's storage spec, the overrides that point the sweep at it), for the duration of one measurement."""
    if kind == "journal":
        yield str(folder / "studies" / f"{STUDY}.journal"), []
    elif kind == "sqlite":
        url = f"sqlite:///{folder / 'optuna.db'}"
        yield url, [f"hydra.sweeper.storage={url}"]
    else:
        databases = Databases.create(postgres_server())
        try:
            overrides = [f"hydra.sweeper.storage={databases.studies}"]
            if mlflow_on_storage:
                overrides.append(f"+tracking.uri={databases.mlflow}")
            yield databases.studies, overrides
        finally:
            databases.drop()


def postgres_server() -> str:
    url = server_url()
    assert url is not None  # checked by postgres_missing
    return str(url)


def postgres_missing() -> str | None:
    """Why PostgreSQL cannot be measured, or None when its server answers."""
    url = server_url()
    if url is None:
        return "no server: SWEEPWISE_POSTGRES_URL is unset (start one: bash tests/cluster/postgres_up.sh)"
    reason = answers(url)
    return f"the server does not answer ({reason})" if reason else None


def measure(kind: str, counts: list[int], jobs: int, mlflow_on_storage: bool, keep: bool) -> Result:
    result = Result(kind, counts)
    folder = Path(tempfile.mkdtemp(prefix=f"sweepwise-scale-{kind}-"))
    log = folder / "sweep.log"
    try:
        with study_storage(kind, folder, mlflow_on_storage) as (storage, overrides):
            command = [f"hydra.sweeper.n_trials={counts[-1]}", f"hydra.sweeper.n_jobs={jobs}", *overrides]
            sweep = run_toy(folder, command, log)
            print(f"{kind}: {counts[-1]} trials in {sweep.seconds:.1f} s", flush=True)
            reopen = run_toy(folder, command, log)
            result.reopen_s = reopen.seconds
            result.reopen_peak_orchestrator_mb = reopen.peak_orchestrator_mb
            analyse(result, completion_times(storage), sweep)
    finally:
        if keep:
            print(f"{kind}: kept {folder} (sweep output in {log})")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    figures = ", ".join(f"{result.ms_per_trial[c]:.1f} ms at {c:,}" for c in counts)
    between = ", ".join(f"{v:.1f} ms from {k.replace('-', ' to ')}" for k, v in result.ms_per_trial_between.items())
    in_windows = ", ".join(f"{result.orchestrator_peak_mb_in_window[c]:.0f} MB at {c:,}" for c in counts)
    print(
        f"{kind}: marginal per trial {figures}; mean per trial {between}; orchestrator RSS in the windows "
        f"{in_windows}, peak "
        f"{result.peak_orchestrator_mb:.0f} MB (workers {result.peak_workers_mb:.0f} MB); "
        f"reopen {result.reopen_s:.1f} s",
        flush=True,
    )
    return result


def table(results: list[Result], counts: list[int]) -> str:
    head = [
        "storage",
        *(f"ms/trial at {c:,}" for c in counts),
        f"ratio {counts[-1]:,}/{counts[0]:,} (goal <= {GOAL})",
        "peak RSS MB (orchestrator)",
        "peak RSS MB (workers)",
        "reopen s",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for result in results:
        if result.skipped:
            cells = [result.storage, *(["-"] * (len(head) - 2)), f"skipped: {result.skipped}"]
        else:
            ratio = result.ratio
            verdict = "ok" if ratio is not None and ratio <= GOAL else "OVER"
            cells = [
                result.storage,
                *(f"{result.ms_per_trial[c]:.1f}" for c in counts),
                f"{ratio:.2f} {verdict}" if ratio is not None else "-",
                f"{result.peak_orchestrator_mb:.0f}",
                f"{result.peak_workers_mb:.0f}",
                f"{result.reopen_s:.1f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--counts", default="100,1000,3000", help="trial counts, ascending; the sweep runs to the last")
    parser.add_argument("--storages", default=",".join(STORAGES), help=f"any of {', '.join(STORAGES)}")
    parser.add_argument("--jobs", type=int, default=2, help="trials in flight at once (hydra.sweeper.n_jobs)")
    parser.add_argument("--mlflow-on-storage", action="store_true", help="PostgreSQL: MLflow runs on the server too")
    parser.add_argument("--out", type=Path, help="write the table to OUT (.md) and the figures to OUT with .json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (sweep output, stores)")
    args = parser.parse_args()
    counts = sorted({int(c) for c in args.counts.split(",")})
    storages = [s.strip() for s in args.storages.split(",") if s.strip()]
    if unknown := [s for s in storages if s not in STORAGES]:
        parser.error(f"unknown storage {', '.join(unknown)}: choose from {', '.join(STORAGES)}")
    if counts[0] <= MIN_WINDOW:
        parser.error(f"counts must exceed {MIN_WINDOW} (the smallest window)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = datetime.now().astimezone()
    load = os.getloadavg()
    print(f"counts {counts}, {args.jobs} slots, storages {storages}; load average {load[0]:.2f}", flush=True)
    results = []
    for kind in storages:
        missing = postgres_missing() if kind == "postgresql" else None
        if missing:
            print(f"{kind}: skipped: {missing}", flush=True)
            results.append(Result(kind, counts, skipped=missing))
            continue
        results.append(measure(kind, counts, args.jobs, args.mlflow_on_storage and kind == "postgresql", args.keep))
    markdown = table(results, counts)
    print()
    print(markdown)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(markdown + "\n")
        report: dict[str, Any] = {
            "started": started.isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "counts": counts,
            "jobs": args.jobs,
            "mlflow_store": "sqlite file"
            + (" (postgresql: a database on its server)" if args.mlflow_on_storage else ""),
            "goal_ratio": GOAL,
            "machine": {"cpus": os.cpu_count(), "load_average_at_start": load, "python": platform.python_version()},
            "results": [{**asdict(r), "ratio": r.ratio} for r in results],
        }
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.out.with_suffix('.md')} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
