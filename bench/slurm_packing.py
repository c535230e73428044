"""Short trials on SLURM, a job each against packs of k in one job (`hydra.launcher.trials_per_gpu=k`).

Each trial of the toy task of tests/apps sleeps `--sleep` seconds; the sweep keeps `--slots` trials in flight
on the cluster of SLURM_CONF (`make slurm-up`). With a job per trial, every trial pays SLURM's scheduling and
its job's start; a pack pays the scheduling once for k trials (its tasks still start a Python process each).
Printed: the sweep's wall time and SLURM jobs for each k, and the ratio packed / a job each (goal: below 1).
On a busy cluster each job also waits in the queue, which a pack pays once; an idle test cluster shows only
the scheduling and start-up part.

    python bench/slurm_packing.py [--trials 16] [--slots 4] [--pack 4] [--sleep 1]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sweepwise.study.storage import open_storage

TOY = Path(__file__).resolve().parent.parent / "tests" / "apps" / "toy.py"
ON_SLURM = [
    "hydra/launcher=slurm",
    "hydra.launcher.gpus_per_node=1",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.poll_interval_s=5",
]


def sweep(trials: int, slots: int, pack: int, sleep: float) -> tuple[float, int]:
    """(wall seconds of the whole sweep, SLURM jobs it submitted)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable,
            str(TOY),
            "-m",
            *ON_SLURM,
            f"hydra.launcher.trials_per_gpu={pack}",
            f"hydra.sweeper.n_trials={trials}",
            f"hydra.sweeper.n_jobs={slots}",
            f"short_sleep={sleep}",
        ]
        started = time.perf_counter()
        subprocess.run(command, cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        storage = open_storage(str(Path(folder) / "studies" / "toy.journal"))
        study = storage.get_all_studies()[0]
        ended = storage.get_all_trials(study._study_id)
        assert sum(trial.state.name == "COMPLETE" for trial in ended) == trials, "every trial must complete"
        jobs = {str(trial.user_attrs["job_id"]).split("_")[0] for trial in ended}
    return wall, len(jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--pack", type=int, default=4)
    parser.add_argument("--sleep", type=float, default=1.0)
    arguments = parser.parse_args()
    single_wall, single_jobs = sweep(arguments.trials, arguments.slots, 1, arguments.sleep)
    packed_wall, packed_jobs = sweep(arguments.trials, arguments.slots, arguments.pack, arguments.sleep)
    print(f"{arguments.trials} trials of {arguments.sleep:g} s, {arguments.slots} in flight")
    print(f"a job each      : {single_wall:6.1f} s, {single_jobs} SLURM jobs")
    print(f"packs of {arguments.pack:<6} : {packed_wall:6.1f} s, {packed_jobs} SLURM jobs")
    print(f"ratio packed / a job each: {packed_wall / single_wall:.2f} (goal < 1)")


if __name__ == "__main__":
    main()
