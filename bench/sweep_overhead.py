"""Per-trial time of a sweep of a no-op task against a plain in-process Optuna loop logging the same to MLflow.

Ours: `tests/apps/toy.py -m` (sleep 0) through the `optuna` sweeper, as a user runs it: trials in worker
processes, the study in the journal file, a parent run and a child run per trial in a sqlite MLflow store.
The per-trial time is the marginal one: (wall of N trials - wall of FEW trials) / (N - FEW), which leaves out what
both runs share once per sweep: the start-up (imports, worker processes, the MLflow store) and the report at
the end; that fixed cost is printed too. FEW is past the trial count from which the report draws its
parameter-importance plot (about a second and a half): with fewer, the short sweep would skip the plot and its
cost would be counted against the N - FEW trials. Baseline, in one process: ask a trial from a study in the
same kind of journal file, create its child run under a parent with the same params, tags and objective metric,
end it, tell the study. Each measurement is repeated (alternating) and the medians are compared, since this
machine's timings drift. Goal: ratio (ours / baseline) <= 1.5. The ratio is printed last.

    python bench/sweep_overhead.py [--trials 200] [--jobs 2] [--repeats 3]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from sweepwise.study.storage import open_storage
from sweepwise.sweep.driver.study_plots import MIN_TRIALS_FOR_IMPORTANCE
from sweepwise.tracking.mlflow_run import ensure_experiment

TOY = Path(__file__).resolve().parent.parent / "tests" / "apps" / "toy.py"
FEW = MIN_TRIALS_FOR_IMPORTANCE + 10  # trials of the short sweep whose time is subtracted


def sweep_seconds(trials: int, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, str(TOY), "-m", f"hydra.sweeper.n_trials={trials}", f"hydra.sweeper.n_jobs={jobs}"]
        started = time.perf_counter()
        subprocess.run(command, cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started


def plain_loop_seconds(trials: int) -> float:
    """The loop a person writes in one process: ask, 'run' the no-op, log the child run, tell."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        study = optuna.create_study(study_name="plain", storage=open_storage(str(Path(folder) / "plain.journal")))
        client = MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db")
        experiment = ensure_experiment(client, "plain")
        parent = client.create_run(experiment, run_name="plain").info.run_id
        started = time.perf_counter()
        for _ in range(trials):
            trial = study.ask()
            x = trial.suggest_float("x", -1.0, 1.0)
            value = (x - 0.3) ** 2
            run = client.create_run(experiment, run_name=f"trial-{trial.number}", tags={MLFLOW_PARENT_RUN_ID: parent})
            client.log_batch(
                run.info.run_id,
                metrics=[Metric("objective", value, int(time.time() * 1000), 0)],
                params=[Param("x", str(x))],
                tags=[RunTag("sweepwise.trial_state", "COMPLETE")],
            )
            client.set_terminated(run.info.run_id)
            study.tell(trial, value)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ours, plain = [], []
    for repeat in range(args.repeats):
        few, many = sweep_seconds(FEW, args.jobs), sweep_seconds(args.trials, args.jobs)
        ours.append((many - few) / (args.trials - FEW))
        plain.append(plain_loop_seconds(args.trials) / args.trials)
        print(
            f"repeat {repeat + 1}: sweepwise {ours[-1] * 1000:.1f} ms/trial ({few:.1f} s for {FEW} trials, "
            f"{many:.1f} s for {args.trials}; fixed cost per sweep {few - FEW * ours[-1]:.1f} s), "
            f"plain loop {plain[-1] * 1000:.1f} ms/trial"
        )
    ours_median, plain_median = statistics.median(ours), statistics.median(plain)
    print(f"median per trial: sweepwise {ours_median * 1000:.1f} ms, plain loop {plain_median * 1000:.1f} ms")
    print(f"per-trial overhead ratio (sweepwise / plain loop): {ours_median / plain_median:.2f}")


if __name__ == "__main__":
    main()
