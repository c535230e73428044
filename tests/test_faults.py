"""Faults injected into real sweeps of real training: each ends with a consistent study and MLflow store, and
every metric step of every COMPLETE trial is there, once."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from helpers import REPO, TRAIN_PY, run_train
from mlflow import MlflowClient
from mlflow_server import MlflowServer
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._storage import JournalOperation
from postgres_server import Databases
from reliability import record
from sweep_helpers import load_study, run_toy, states

from sweepwise.databases import with_driver
from sweepwise.study.records import FAIL_REASON_ATTR
from sweepwise.study.storage import TORN_SUFFIX, open_storage
from sweepwise.sweep.driver.left_running import fail_running
from sweepwise.sweep.driver.tracker import SweepTracker
from sweepwise.sweep.driver.trial_flights import interrupted
from sweepwise.tracking.retry import backoff_budget_s

pytestmark = [pytest.mark.slow, pytest.mark.reliability]
STEPS_PER_EPOCH = 25  # synthetic data: 1600 training samples in batches of 64
# small real trainings that log every step and report every epoch
SWEEP = [
    "-m",
    "sweeps=random_lr_wd",
    "data=synthetic",
    "model=linear",
    "trainer.batch_size=64",
    "trainer.progress=plain",
    "tracking.log_every_n_steps=1",
    "recipe.preflight=off",
    "hydra/sweeper/pruner=none",
]
KILLED_MID_EPOCH = [  # each trial's process is SIGKILLed in epoch 3, after the checkpoint of epoch 2
    "model._target_=faulty_parts.KilledOnceModel",
    f"+model.kill_at={2 * STEPS_PER_EPOCH + 10}",
    "+model.marker=${hydra:runtime.output_dir}/killed",
]


def stored_study(storage: str, name: str = "random_lr_wd") -> optuna.Study:
    """The sweep's study, read afresh from its journal file or database."""
    return optuna.load_study(study_name=name, storage=open_storage(storage))


def lost_steps(client: MlflowClient, run_id: str, epochs: int) -> dict[str, tuple[int, int]]:
    """(missing, duplicated) steps of each per-step and per-epoch metric that a run lacks or holds twice."""
    expected = {
        "step/train_loss": range(1, epochs * STEPS_PER_EPOCH + 1),
        "val/acc": range(1, epochs + 1),
        "train/loss": range(1, epochs + 1),
    }
    lost = {}
    for key, steps in expected.items():
        logged = [metric.step for metric in client.get_metric_history(run_id, key)]
        missing, twice = len(set(steps) - set(logged)), len(logged) - len(set(logged))
        if missing or twice:
            lost[key] = (missing, twice)
    return lost


def children(client: MlflowClient, experiment: str = "sweepwise") -> dict[int, object]:
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id]) if found else []
    return {int(run.data.tags["sweepwise.trial_number"]): run for run in runs if "mlflow.parentRunId" in run.data.tags}


def test_a_trial_killed_mid_epoch_is_retried_from_its_checkpoint_in_the_same_run(tmp_path: Path):
    epochs = 5
    done = run_train(
        [*SWEEP, *KILLED_MID_EPOCH, f"trainer.epochs={epochs}", "hydra.sweeper.n_trials=2", "hydra.sweeper.retries=1"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("process killed by SIGKILL; retrying (1/1)") == 2
    study = load_study(tmp_path, "random_lr_wd")
    assert states(study) == {"COMPLETE": 2}
    assert all(trial.user_attrs["attempts"] == 2 for trial in study.trials)
    assert all(sorted(trial.intermediate_values) == list(range(1, epochs + 1)) for trial in study.trials)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = children(client)
    assert sorted(runs) == [0, 1]  # one run per trial: the retry continued it
    for number, run in runs.items():
        assert run.info.status == "FINISHED" and run.data.tags["sweepwise.resumed_from_epoch"] == "2"
        assert lost_steps(client, run.info.run_id, epochs) == {}
        log = (tmp_path / "multirun" / "random_lr_wd" / str(number) / "trial.log").read_text()
        assert "resumed from the checkpoint of epoch 2" in log
    record(
        "fault",
        "trial process SIGKILLed mid-epoch (epoch 3 of 5), `retries=1`",
        "both trials: attempt 1 died (`process killed by SIGKILL`), attempt 2 resumed from the epoch-2 checkpoint "
        "in the same MLflow run and ended COMPLETE",
        f"nothing: {epochs * STEPS_PER_EPOCH} loss steps and {epochs} epochs in each run, each once; {epochs} "
        "reports per trial",
    )


def test_a_truncated_checkpoint_fails_its_trial_with_the_file_named_and_no_retry_loop(tmp_path: Path):
    done = run_train(
        [
            *SWEEP,
            *KILLED_MID_EPOCH,
            "+model.truncate=${trainer.checkpoint_dir}/last.pt",
            "trainer.epochs=4",
            "hydra.sweeper.n_trials=1",
            "hydra.sweeper.retries=3",
            "hydra.sweeper.max_failure_rate=1",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (trial,) = load_study(tmp_path, "random_lr_wd").trials
    checkpoint = tmp_path / "multirun" / "random_lr_wd" / "0" / "checkpoints" / "last.pt"
    reason = trial.user_attrs[FAIL_REASON_ATTR]
    assert trial.state.name == "FAIL" and "unreadable checkpoint" in reason and str(checkpoint) in reason
    assert trial.user_attrs["attempts"] == 2  # the attempt that found the bad file raised: it was not retried
    assert checkpoint.is_file()  # kept for inspection
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = children(client).values()
    assert run.info.status == "FAILED" and "unreadable checkpoint" in run.data.tags["sweepwise.fail_reason"]
    assert [metric.step for metric in client.get_metric_history(run.info.run_id, "val/acc")] == [1, 2]
    shown = reason.split(" (")[0].replace(f"{tmp_path}/", "")
    record(
        "fault",
        "checkpoint `last.pt` cut to half its size, then the trial process SIGKILLed (`retries=3`)",
        f"the retry stopped with `{shown}`; the trial is FAIL after 2 attempts (no retry loop), the file is kept",
        "the trial's progress since its start (its 2 logged epochs stay in its FAILED run); no other trial",
    )


def start_sweep(args: list[str], cwd: Path) -> subprocess.Popen:
    """The sweep in the background, its stderr to `cwd/sweep.err`."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests" / "plugins"), "PYTHONUNBUFFERED": "1"}
    with open(cwd / "sweep.err", "w") as err:
        return subprocess.Popen(
            [sys.executable, str(TRAIN_PY), *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err
        )


def wait_for_end(sweep: subprocess.Popen, cwd: Path) -> str:
    """The sweep's stderr, once it has ended."""
    sweep.wait(timeout=600)
    return (cwd / "sweep.err").read_text()


def wait_for_epochs(
    sweep: subprocess.Popen, cwd: Path, tracking_uri: str, epochs: int, finished: int = 0, timeout: float = 300
) -> MlflowClient:
    """Until `finished` trials' runs have ended and a running trial has logged `epochs` epochs; then a client of
    the store. A sqlite store is read only once the sweep has created it: a reader creating it at the same moment
    would race the sweep's own creation of its tables."""
    deadline = time.monotonic() + timeout
    database = Path(tracking_uri.removeprefix("sqlite:///")) if tracking_uri.startswith("sqlite:///") else None
    client = None
    while time.monotonic() < deadline:
        if sweep.poll() is not None:
            raise AssertionError(f"the sweep ended ({sweep.returncode}) first:\n{wait_for_end(sweep, cwd)[-3000:]}")
        if client is None and (database is None or database.exists()):
            client = MlflowClient(tracking_uri)
        runs = children(client).values() if client else []
        if sum(run.info.status == "FINISHED" for run in runs) >= finished and any(
            run.info.status == "RUNNING" and len(client.get_metric_history(run.info.run_id, "val/acc")) >= epochs
            for run in runs
        ):
            return client
        time.sleep(0.5)
    raise AssertionError(f"no running trial logged {epochs} epochs after {finished} finished, in {timeout} s")


@pytest.fixture(params=["sqlite", pytest.param("PostgreSQL", marks=pytest.mark.xdist_group("postgres"))])
def restartable_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MlflowServer]:
    """A real `mlflow server` whose backend store is a sqlite file, or a PostgreSQL database."""
    backend = None
    if request.param == "PostgreSQL":
        databases = request.getfixturevalue("postgres")
        assert isinstance(databases, Databases)
        backend = with_driver(databases.mlflow)
    server = MlflowServer(tmp_path, backend)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_an_mlflow_server_restarted_mid_sweep_loses_no_metric(restartable_server: MlflowServer, tmp_path: Path):
    mlflow_server = restartable_server
    epochs, trials = 12, 4
    sweep = start_sweep(
        [
            *SWEEP,
            f"tracking.uri={mlflow_server.url}",
            f"trainer.epochs={epochs}",
            f"hydra.sweeper.n_trials={trials}",
            "tracking.retry.max_retries=6",
            "tracking.retry.backoff_factor=1",
        ],
        tmp_path,
    )
    client = wait_for_epochs(sweep, tmp_path, mlflow_server.url, 2)
    mlflow_server.stop()
    stopped = time.monotonic()
    time.sleep(5)
    mlflow_server.start()
    outage = time.monotonic() - stopped
    err = wait_for_end(sweep, tmp_path)
    assert sweep.returncode == 0, err[-3000:]

    study = load_study(tmp_path, "random_lr_wd")
    assert states(study) == {"COMPLETE": trials}
    runs = children(client)
    assert sorted(runs) == list(range(trials))
    for run in runs.values():
        assert client.get_run(run.info.run_id).info.status == "FINISHED"
        assert lost_steps(client, run.info.run_id, epochs) == {}
    logs = [(tmp_path / "multirun" / "random_lr_wd" / str(n) / "trial.log").read_text() for n in range(trials)]
    waited = sum("Retrying" in log for log in logs)
    assert waited >= 1  # trials did meet the outage, and waited it out
    record(
        "fault",
        f"MLflow server ({mlflow_server.backend.split(':')[0]} backend) stopped mid-sweep and restarted "
        f"{outage:.0f} s later (retry budget 6 retries, factor 1)",
        f"{waited} running trials retried their requests with backoff until the server was back; the sweep ended "
        f"with {trials} of {trials} COMPLETE",
        f"nothing: {epochs * STEPS_PER_EPOCH} loss steps and {epochs} epochs in every run, each once",
    )


def test_an_mlflow_server_gone_for_good_stops_the_sweep_clearly_and_it_resumes(
    mlflow_server: MlflowServer, tmp_path: Path
):
    epochs, trials = 12, 4
    args = [
        *SWEEP,
        f"tracking.uri={mlflow_server.url}",
        f"trainer.epochs={epochs}",
        f"hydra.sweeper.n_trials={trials}",
        "tracking.retry.max_retries=3",
        "tracking.retry.backoff_factor=1",
    ]
    sweep = start_sweep(args, tmp_path)
    client = wait_for_epochs(
        sweep, tmp_path, mlflow_server.url, 2, finished=1
    )  # one trial COMPLETE, a later one halfway
    mlflow_server.stop()
    stopped = time.monotonic()
    err = wait_for_end(sweep, tmp_path)
    gave_up_after = time.monotonic() - stopped
    assert sweep.returncode != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith(f"error: MLflow tracking server {mlflow_server.url} is unreachable"), err[-3000:]
    assert "the same command resumes the sweep" in lines[-1] and "Traceback" not in err
    assert (
        gave_up_after < 10 * backoff_budget_s(max_retries=3, backoff_factor=1) + 60
    )  # bounded: a few requests' retry budgets, not forever

    stopped_study = load_study(tmp_path, "random_lr_wd")
    assert "RUNNING" not in states(stopped_study)
    failed = [t for t in stopped_study.trials if t.state.name == "FAIL"]
    assert failed and all(t.user_attrs[FAIL_REASON_ATTR].startswith("interrupted") for t in failed)
    complete_before = {t.number: t.value for t in stopped_study.trials if t.state.name == "COMPLETE"}
    assert complete_before

    mlflow_server.start()
    again = run_train(args, tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    study = load_study(tmp_path, "random_lr_wd")
    complete = {t.number: t.value for t in study.trials if t.state.name == "COMPLETE"}
    assert len(complete) == trials and complete_before.items() <= complete.items()
    continuing = {t.user_attrs["continues"]: t for t in study.trials if "continues" in t.user_attrs}
    assert sorted(continuing) == [t.number for t in failed]  # each cut-short trial's work went on
    runs = children(client)
    # one run per trial's work: a continuation logs into the run of the trial it continues
    assert sorted(runs) == [t.number for t in study.trials if "continues" not in t.user_attrs]
    for run in runs.values():
        ended = client.get_run(run.info.run_id)
        assert ended.info.status == "FINISHED" and lost_steps(client, run.info.run_id, epochs) == {}
        assert ended.data.tags["sweepwise.trial_state"] == "COMPLETE" and "sweepwise.fail_reason" not in ended.data.tags
    record(
        "fault",
        "MLflow server stopped mid-sweep for good (retry budget 3 retries, factor 1)",
        f"the sweep launched no more trials and stopped {gave_up_after:.0f} s later with one line (`MLflow tracking "
        f"server ... is unreachable`); the {len(failed)} trials it cut short are FAIL (interrupted); after a server "
        f"restart the same command resumed, continued each of them from its checkpoint in its own run, and ended "
        f"with {trials} COMPLETE",
        f"nothing: every trial COMPLETE before the outage ({len(complete_before)}) kept its value; every run, the "
        "continued ones too, has every step once and is FINISHED",
    )


def test_a_sweep_stopping_with_its_server_gone_fails_every_running_trial_even_one_without_a_run(
    mlflow_server: MlflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Trials asked before the server went, whose processes never created their runs: the stopping sweep cannot
    create those runs now, and must still leave none of them RUNNING in the study."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    study = optuna.create_study(study_name="gone", storage=open_storage(f"{tmp_path}/journal.log"))
    tracker = SweepTracker(mlflow_server.url, "gone")
    tracker.start_parent(study, {}, {})
    asked = [study.ask() for _ in range(3)]
    mlflow_server.stop()

    failed = fail_running(study, tracker, interrupted("the sweep was stopped while this trial ran"), {})

    assert failed == 3
    ended = stored_study(f"{tmp_path}/journal.log", "gone").trials
    assert [t.state.name for t in ended] == ["FAIL"] * len(asked)
    assert all(t.user_attrs[FAIL_REASON_ATTR].startswith("interrupted") for t in ended)


def test_a_torn_last_journal_line_is_set_aside_and_no_finished_trial_is_lost(tmp_path: Path):
    first = run_toy(["hydra.sweeper.n_trials=4"], tmp_path)
    assert first.returncode == 0, first.stderr
    journal = tmp_path / "studies" / "toy.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    while json.loads(lines[-1])["op_code"] == JournalOperation.SET_STUDY_USER_ATTR:
        lines.pop()  # the sweep's last writes, after its last trial's end: its claim on the study released
    last = lines[-1]
    journal.write_bytes(b"".join(lines[:-1]) + last[: len(last) // 2])  # a writer killed midway through its line
    before = optuna.load_study(study_name="toy", storage=JournalStorage(JournalFileBackend(str(journal))))
    finished = {t.number: t.value for t in before.trials if t.state.name == "COMPLETE"}
    (torn_trial,) = [t.number for t in before.trials if t.state.name == "RUNNING"]  # the line was its end

    again = run_toy(["hydra.sweeper.n_trials=6"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"moved it to {journal}{TORN_SUFFIX}" in again.stderr
    study = load_study(tmp_path, "toy")
    complete = {t.number: t.value for t in study.trials if t.state.name == "COMPLETE"}
    assert finished.items() <= complete.items() and len(complete) == 6
    assert (tmp_path / "studies" / f"toy.journal{TORN_SUFFIX}").read_bytes() == last[: len(last) // 2] + b"\n"
    torn = study.trials[torn_trial]
    assert torn.state.name == "FAIL" and torn.user_attrs[FAIL_REASON_ATTR].startswith("interrupted")
    record(
        "fault",
        "the journal's last line cut in half (a writer killed midway), then the sweep resumed",
        f"the torn {len(last) // 2} bytes were moved to `<journal>{TORN_SUFFIX}` before any write; the trial whose "
        "end they recorded was failed as interrupted and run again; 6 of 6 COMPLETE",
        f"nothing finished: the {len(finished)} trials COMPLETE before kept their values (without the repair, the "
        "next append makes the whole journal unreadable)",
    )


@pytest.fixture(
    params=[
        "journal file, sqlite store",
        pytest.param("PostgreSQL storage and store", marks=pytest.mark.xdist_group("postgres")),
    ]
)
def local_stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[list[str], str, str]:
    """(the overrides that pick the study storage and MLflow store, the tracking URI, the storage)"""
    if request.param.startswith("PostgreSQL"):
        databases = request.getfixturevalue("postgres")
        assert isinstance(databases, Databases)
        overrides = [f"hydra.sweeper.storage={databases.studies}", f"tracking.uri={databases.mlflow}"]
        return overrides, with_driver(databases.mlflow), databases.studies
    return [], f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "studies" / "random_lr_wd.journal")


def test_a_killed_sweeps_interrupted_trials_continue_their_own_work_from_their_checkpoints(
    local_stores: tuple[list[str], str, str], tmp_path: Path
):
    overrides, tracking_uri, storage = local_stores
    epochs = 8
    args = [*SWEEP, f"trainer.epochs={epochs}", "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=2", *overrides]
    sweep = start_sweep(args, tmp_path)
    client = wait_for_epochs(
        sweep, tmp_path, tracking_uri, 3
    )  # a running trial has trained (and checkpointed) 3 epochs
    sweep.kill()
    sweep.wait()
    left_running = [t for t in stored_study(storage).trials if t.state.name == "RUNNING"]
    assert left_running

    again = run_train(args, tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    study = stored_study(storage)
    assert states(study)["COMPLETE"] == 3
    continuing = {t.user_attrs["continues"]: t for t in study.trials if "continues" in t.user_attrs}
    assert sorted(continuing) == [t.number for t in left_running]
    runs = children(client)
    assert len(runs) == len(study.trials) - len(continuing)  # one MLflow run per trial's work
    resumed_epochs = []
    for trial in left_running:
        later = continuing[trial.number]
        assert later.params == trial.params and later.state.name == "COMPLETE"
        run = runs[trial.number]
        assert later.user_attrs["mlflow_run_id"] == run.info.run_id and run.info.status == "FINISHED"
        assert lost_steps(client, run.info.run_id, epochs) == {}  # every step and epoch logged once
        log = (tmp_path / "multirun" / "random_lr_wd" / str(trial.number) / "trial.log").read_text()
        # no epoch trained twice beyond the last checkpoint: each epoch's line once, across both processes
        assert [sum(line.startswith(f"epoch {e}/{epochs} ") for line in log.splitlines()) for e in range(1, 9)] == [
            1
        ] * epochs
        if "resumed from the checkpoint of epoch" in log:
            resumed_epochs.append(int(log.split("resumed from the checkpoint of epoch ")[1].split()[0]))
    assert resumed_epochs and all(epoch >= 1 for epoch in resumed_epochs)
    stores = "journal file, sqlite store" if "://" not in storage else "PostgreSQL storage and store"
    record(
        "fault",
        f"the orchestrator SIGKILLed while trials train (3 trials of 8 epochs, 2 at once; {stores})",
        f"the re-run continued the {len(left_running)} interrupted trials from their checkpoints (epochs "
        f"{sorted(resumed_epochs)}), with the same params in the same MLflow runs; 3 of 3 COMPLETE",
        "nothing beyond each killed epoch in progress: every epoch trained and logged once",
    )
