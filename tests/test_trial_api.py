"""The public trial API (`sweepwise.current_trial`): in a sweep's trial, outside any sweep, and on every rank of a
multi-process trial."""

import os
import random
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
from helpers import REPO, run_script
from mlflow import MlflowClient
from mlflow.entities import Metric
from sweep_helpers import load_study, states, sweep_runs

import sweepwise
from sweepwise.internals.optuna_internals import trial_id
from sweepwise.sweep.trial.child_runs import create_child_run, open_child_run
from sweepwise.sweep.trial.sweep_session import StudyReporter
from sweepwise.sweep.trial.trial_context import TrialContext
from sweepwise.tracking.mlflow_run import MlflowRun
from sweepwise.trial_api import TRIAL_VARIABLE, Trial, handing_over
from sweepwise.trial_facts import TrialClosed, TrialFacts

OWN_LOOP = REPO / "examples" / "own_loop" / "train.py"
DDP_LOOP = REPO / "tests" / "apps" / "ddp_loop.py"
REPORT_STEPS = REPO / "tests" / "apps" / "report_steps.py"


def history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(metric.step, metric.value) for metric in client.get_metric_history(run_id, key)]


def test_a_sweeps_report_of_several_metrics_names_the_objective_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    in_a_sweep = Trial(TrialFacts(link=f"{__name__}:never_prunes"))
    with pytest.raises(ValueError, match=r"metrics \['train/loss', 'val/loss'\]: name the one the sweep optimises"):
        in_a_sweep.report(1, {"val/loss": 0.5, "train/loss": 0.4})
    with pytest.raises(ValueError, match=r"objective='val/acc'\) is not among"):
        Trial().report(1, {"val/loss": 0.5}, objective="val/acc")  # a misspelt name is wrong anywhere
    assert not (tmp_path / "mlflow.db").exists()
    assert Trial().report(1, {"val/loss": 0.5, "train/loss": 0.4}) is False  # outside a sweep: only logged


def test_a_step_reported_again_in_one_training_is_refused_before_the_study_or_run_hears_it(tmp_path: Path):
    """Optuna would keep the first value and MLflow log both: the pruner and the chart would disagree."""
    heard.clear()
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    trial = Trial(TrialFacts(tracking_uri=store, ends_run=False, link=f"{__name__}:always_heard"))
    trial.report(1, {"val/acc": 0.22})
    with pytest.raises(ValueError, match=r"report\(step=1\) after report\(step=1\): each report's step must be above"):
        trial.report(1, {"val/acc": 0.21})
    trial.report(2, {"val/acc": 0.23})
    trial.end()
    assert heard == [(1, 0.22), (2, 0.23)]
    assert history(MlflowClient(store), trial.run_id, "val/acc") == [(1, 0.22), (2, 0.23)]


def always_heard(facts: dict) -> object:
    """A study link that records what it is told and never prunes."""
    return lambda step, value, last=False, objective="": heard.append((step, value))


def never_prunes(facts: dict) -> object:
    """A study link whose pruner never stops its trial."""
    return lambda step, value, last=False, objective="": None


def test_the_last_step_of_a_training_is_reported_to_the_study_but_never_pruned(tmp_path: Path):
    heard.clear()
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    finishing = Trial(TrialFacts(tracking_uri=store, ends_run=False, link=f"{__name__}:always_prunes"))
    assert finishing.report(4, {"val/loss": 0.5}, last=True) is False and finishing.pruned is None
    stopped = Trial(TrialFacts(tracking_uri=store, ends_run=False, link=f"{__name__}:always_prunes"))
    assert stopped.report(3, {"val/loss": 0.6}) is True and stopped.pruned == "pruned at step 3: val/loss 0.6"
    assert heard == [(4, 0.5), (3, 0.6)]


def test_a_trial_told_to_stop_that_trains_to_the_end_anyway_completes(tmp_path: Path):
    """Code that ignores the word to stop and reports its last step has done its work: the stop is withdrawn (its
    note removed, which the sweep reads), the last step reaches the study, and steps are whole numbers for MLflow."""
    heard.clear()
    note = tmp_path / "pruned.txt"
    facts = TrialFacts(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", ends_run=False, pruned_note=str(note),
                       link=f"{__name__}:always_prunes")  # fmt: skip
    trial = Trial(facts)
    assert trial.report(np.int64(1), {"val/loss": 0.9}) is True and note.read_text() == trial.pruned
    assert trial.report(np.int64(2), {"val/loss": 0.8}) is True  # still stopped: nothing more to the study
    assert trial.report(np.int64(3), {"val/loss": 0.7}, last=True) is False
    assert trial.pruned is None and not note.exists()
    assert heard == [(1, 0.9), (3, 0.7)] and all(type(step) is int for step, _ in heard)


heard: list[tuple[int, float]] = []


def always_prunes(facts: dict) -> object:
    """A study link that hears each report (into `heard`) and whose pruner stops its trial at every step."""
    return lambda step, value, last=False, objective="": heard.append((step, value)) or "pruned"


def test_a_resumed_attempt_logs_no_step_twice(tmp_path: Path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with Trial(TrialFacts(tracking_uri=store)) as first:
        for step in (1, 2, 3):
            first.log(step, {"step/loss": float(step)})
        first.report(1, {"val/loss": 0.5})
    again = Trial(TrialFacts(tracking_uri=store, run_id=first.run_id, resuming=True))
    with again:
        for step in (2, 3, 4):  # it resumes from a checkpoint taken before step 2
            again.log(step, {"step/loss": 10.0 * step})
        again.report(1, {"val/loss": 9.9})
        again.report(2, {"val/loss": 0.4})
    client = MlflowClient(store)
    assert history(client, first.run_id, "step/loss") == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 40.0)]
    assert history(client, first.run_id, "val/loss") == [(1, 0.5), (2, 0.4)]


def test_a_sweep_trials_report_at_step_zero_reaches_its_run_as_it_reaches_the_study(tmp_path: Path):
    """A sweep's trial reopens the run its sweep made: an empty history is no step logged, not step 0 logged (an
    evaluation before training reports step 0)."""
    heard.clear()
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    made = MlflowRun.start(store, "sweep", "trial-0", {})
    trial = Trial(TrialFacts(tracking_uri=store, run_id=made.run_id, ends_run=False, link=f"{__name__}:always_heard"))
    for step in (0, 1, 2):
        trial.report(step, {"val/acc": 0.1 * (step + 1)})
    trial.end()
    assert [step for step, _ in heard] == [0, 1, 2]
    assert [step for step, _ in history(MlflowClient(store), made.run_id, "val/acc")] == [0, 1, 2]


def test_metrics_only_logged_reach_the_run_when_the_trial_ends_in_a_sweep_or_its_process_ends_outside(
    tmp_path: Path,
):
    """`log` holds metrics until the next report: a training that never reports still gets every one."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    made = MlflowRun.start(store, "sweep", "trial-0", {})
    in_a_sweep = Trial(TrialFacts(tracking_uri=store, run_id=made.run_id, ends_run=False))
    for step in range(1, 51):
        in_a_sweep.log(step, {"train/loss": 1.0 / step})
    in_a_sweep.end()
    assert len(history(MlflowClient(store), made.run_id, "train/loss")) == 50
    script = tmp_path / "log_only.py"
    script.write_text(
        "import sweepwise\ntrial = sweepwise.current_trial()\n"
        "for step in range(1, 51):\n    trial.log(step, {'train/loss': 1.0 / step})\n"
    )
    (tmp_path / "alone").mkdir()
    done = run_script(script, [], tmp_path / "alone", python_flags=["-W", "error"])
    assert done.returncode == 0, done.stderr[-2000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'alone' / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("Default").experiment_id])
    assert run.info.status == "FINISHED" and len(history(client, run.info.run_id, "train/loss")) == 50


@pytest.mark.parametrize("step", [0.5, 1.5, "2", True])
def test_a_step_that_is_no_whole_number_is_refused_in_one_line_naming_it(tmp_path: Path, step: object):
    """A fraction cut to a whole number would merge two reports (0.5 and 1.0 both step 0 and 1 ...)."""
    trial = Trial(TrialFacts(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", ends_run=False))
    with pytest.raises(ValueError, match=rf"^step={step!r} is not a whole number"):
        trial.report(step, {"val/acc": 0.5})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=rf"^step={step!r} is not a whole number"):
        trial.log(step, {"train/loss": 0.5})  # type: ignore[arg-type]
    trial.report(np.int64(3), {"val/acc": 0.5})  # a NumPy integer, or a float such as 4.0, is a whole step
    trial.report(4.0, {"val/acc": 0.6})
    trial.end()
    assert [step for step, _ in history(MlflowClient(trial.facts.tracking_uri), trial.run_id, "val/acc")] == [3, 4]


def test_a_metric_that_is_not_one_number_is_named_in_one_line(tmp_path: Path):
    trial = Trial(TrialFacts(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", ends_run=False))
    with pytest.raises(ValueError, match=r"^metric 'val/acc' is not one number: tensor\(\[1\., 2\.\]\)"):
        trial.report(1, {"val/acc": torch.tensor([1.0, 2.0])})
    with pytest.raises(ValueError, match=r"^metric 'train/loss' is not one number: 'high'"):
        trial.log(1, {"train/loss": "high"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"^metric 'val/loss' is not one number: '0.5' \(str\)"):
        trial.report(1, {"val/loss": "0.5"})  # type: ignore[dict-item]  # digits in a string are text
    trial.report(1, {"val/acc": torch.tensor(0.5)})  # a one-element tensor is one number
    trial.end()
    assert history(MlflowClient(trial.facts.tracking_uri), trial.run_id, "val/acc") == [(1, 0.5)]


def _batched_logging_times(folder: Path) -> tuple[float, list[float]]:
    """One `log_batch` of a thousand metrics, then the same thousand through `Trial.log` in a first attempt and
    in a resumed one (whose run is open before the clock starts: only the logging is timed)."""
    store = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(store)
    points = [(step, {"step/loss": 1.0 / step, "step/lr": 0.1}) for step in range(1, 501)]  # 1000 metrics
    attempts: list[float] = []
    with Trial(TrialFacts(tracking_uri=store)) as first:
        first.report(1, {"val/loss": 0.5})  # the store and the run exist before anything is timed
        started = time.perf_counter()
        client.log_batch(
            first.run_id, metrics=[Metric(f"same/{k}", v, 0, step) for step, m in points for k, v in m.items()]
        )
        one_batch = time.perf_counter() - started
        for attempt in (first, Trial(TrialFacts(tracking_uri=store, run_id=first.run_id, resuming=True))):
            attempt.open_run()
            started = time.perf_counter()
            for step, metrics in points:  # the last point fills the held thousand: they are written
                attempt.log(step, metrics)
            attempts.append(time.perf_counter() - started)
    assert len(history(client, first.run_id, "step/loss")) == 500  # the resumed attempt logged no step again
    return one_batch, attempts


def test_a_thousand_logged_points_cost_about_one_batched_write_even_in_a_resumed_attempt(tmp_path: Path):
    for repeat in range(3):  # best of three: a loaded machine can stall any one timing
        one_batch, attempts = _batched_logging_times(tmp_path / str(repeat))
        if all(seconds < 5 * one_batch + 0.05 for seconds in attempts):
            return
    pytest.fail(f"a thousand logged points took {attempts} s; one batched write took {one_batch:.3f} s")


def test_an_attempt_whose_trial_its_sweep_has_ended_stops_without_marking_its_run_failed(tmp_path: Path):
    """A sweep stopped (or its job cancelled) ends the trial as interrupted; a later trial goes on with its work
    in the same run. An attempt still running must not record its end there as the run's error, nor log the step
    its sweep refused: the attempt that goes on logs its own value of that step."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=storage)
    asked = study.ask()
    link = {"study_name": "s", "storage": storage, "trial_id": trial_id(asked), "pruner": None}
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    attempt = Trial(
        TrialFacts(
            tracking_uri=store, ends_run=False, link=f"{StudyReporter.__module__}:StudyReporter", link_facts=link
        )
    )
    assert sweepwise.TrialClosed is TrialClosed  # the package's face names it
    with pytest.raises(TrialClosed, match="was ended by its sweep"), attempt:
        attempt.report(1, {"val/loss": 0.5})
        study.tell(asked, state=optuna.trial.TrialState.FAIL)  # the sweep ends it
        attempt.log(2, {"train/loss": 0.4})
        attempt.report(2, {"val/loss": 0.45})
    run = MlflowClient(store).get_run(attempt.run_id)
    assert "sweepwise.error" not in run.data.tags
    assert history(MlflowClient(store), attempt.run_id, "val/loss") == [(1, 0.5)]
    assert history(MlflowClient(store), attempt.run_id, "train/loss") == []


@pytest.mark.parametrize("sweep_made_a_run", [False, True])
def test_an_attempt_whose_trial_was_ended_before_it_recorded_its_run_stops_quietly(
    tmp_path: Path, sweep_made_a_run: bool
):
    """Its job cancelled as its sweep stopped, an attempt may still create its run after the sweep ended the trial:
    it stops there, with TrialClosed, not with a storage error's traceback; and the trial keeps one run, the
    sweep's if the sweep made one as it ended the trial."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=storage)
    asked = study.ask()
    study.tell(asked, state=optuna.trial.TrialState.FAIL)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(store)
    experiment = client.create_experiment("e")
    parent = client.create_run(experiment).info.run_id
    sweeps = [create_child_run(client, experiment, parent, "s", asked.number, {})] if sweep_made_a_run else []
    context = TrialContext("s", storage, trial_id(asked), asked.number, ("minimize",), None, store, experiment, parent)
    with pytest.raises(TrialClosed, match="was ended by its sweep before this attempt recorded its run"):
        open_child_run(context)
    query = f"tags.`sweepwise.trial_number` = '{asked.number}'"
    (kept,) = client.search_runs([experiment], filter_string=query)
    assert kept.info.run_id in (sweeps or [kept.info.run_id])  # the sweep's, or else the attempt's own


def test_logged_metrics_wait_for_the_next_report_and_go_in_its_run(tmp_path: Path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with Trial(TrialFacts(tracking_uri=store)) as trial:
        for step in (1, 2, 3):
            trial.log(step, {"step/loss": 1.0 / step})
        assert not (tmp_path / "mlflow.db").exists()  # held, not written one call per step
        assert trial.report(1, {"val/loss": 0.5}) is False  # nothing prunes outside a sweep
    client = MlflowClient(store)
    run = client.get_run(trial.run_id)
    assert run.info.status == "FINISHED"
    assert history(client, run.info.run_id, "step/loss") == [(1, 1.0), (2, 0.5), (3, pytest.approx(1 / 3))]
    assert history(client, run.info.run_id, "val/loss") == [(1, 0.5)]


def test_a_with_block_that_raises_ends_its_run_failed_with_the_error(tmp_path: Path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    trial = Trial(TrialFacts(tracking_uri=store))
    with pytest.raises(RuntimeError), trial:
        trial.report(1, {"val/loss": 0.5})
        raise RuntimeError("diverged")
    run = MlflowClient(store).get_run(trial.run_id)
    assert run.info.status == "FAILED" and run.data.tags["sweepwise.error"] == "RuntimeError: diverged"


def test_a_rank_other_than_zero_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RANK", "1")  # as torchrun sets it
    trial = Trial()
    trial.log(1, {"step/loss": 1.0})
    assert trial.report(1, {"val/loss": 0.5}) is False and trial.run_id is None
    trial.end()
    assert not (tmp_path / "mlflow.db").exists()


def test_the_trial_a_sweep_hands_over_reaches_the_processes_its_task_starts(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(TRIAL_VARIABLE, raising=False)
    handed = Trial(TrialFacts(number=7, params={"lr": 0.1}, run_id="abc", resuming=True, ends_run=False))
    with handing_over(handed):
        assert sweepwise.current_trial() is handed
        started = run_script(REPO / "tests" / "apps" / "show_trial.py", [], Path.cwd())
    assert started.stdout.split() == ["7", "{'lr':", "0.1}", "abc", "True"], started.stderr
    assert TRIAL_VARIABLE not in os.environ and sweepwise.current_trial() is not handed


@pytest.mark.slow
def test_code_run_outside_a_sweep_logs_each_report_to_a_finished_run_of_its_own(tmp_path: Path):
    done = run_script(OWN_LOOP, ["epochs=3"], tmp_path, python_flags=["-W", "error"])
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("train")  # the Hydra job's name
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert [step for step, _ in history(client, run.info.run_id, "val/loss")] == [1, 2, 3]
    assert (tmp_path / "outputs").is_dir() and list((tmp_path / "outputs").glob("*/*/checkpoints/last.pt"))


@pytest.mark.parametrize(
    ("ending", "status", "error"),
    [("", "FINISHED", None), ("raise KeyboardInterrupt", "KILLED", "KeyboardInterrupt: "),
     ("raise ValueError('bad batch')", "FAILED", "ValueError: bad batch")],
    ids=["ends", "ctrl-c", "raises"],
)  # fmt: skip
def test_a_run_of_the_codes_own_ends_as_its_process_does(tmp_path: Path, ending: str, status: str, error: str | None):
    """The README's form (`trial = sweepwise.current_trial()`, no `with`): the run ends with the process, FAILED
    (KILLED on Ctrl-C) when an exception nothing caught ends it, with that error."""
    script = tmp_path / "loop.py"
    script.write_text(
        "import sweepwise\ntrial = sweepwise.current_trial()\n"
        "for epoch in (1, 2):\n    trial.report(epoch, {'val/loss': 1.0 / epoch}, objective='val/loss')\n" + ending
    )
    done = run_script(script, [], tmp_path, python_flags=["-W", "error"])
    assert (done.returncode == 0) == (error is None), done.stderr[-2000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("Default").experiment_id])
    assert run.info.status == status and run.data.tags.get("sweepwise.error") == error
    assert [step for step, _ in history(client, run.info.run_id, "val/loss")] == [1, 2]


@pytest.mark.slow
def test_every_rank_of_a_ddp_trial_hears_rank_zeros_prune_and_the_run_has_each_epoch_once(tmp_path: Path):
    pruner = [
        "hydra/sweeper/pruner=none",
        "hydra.sweeper.pruner._target_=optuna.pruners.ThresholdPruner",
        "+hydra.sweeper.pruner.upper=0.4",  # the loss is above 0.5 at every step
        "+hydra.sweeper.pruner.n_warmup_steps=2",  # from step 2 on (steps below it are warm-up)
    ]
    done = run_script(DDP_LOOP, ["-m", "hydra.sweeper.n_trials=1", *pruner], tmp_path, python_flags=["-W", "error"])
    assert done.returncode == 0, done.stderr[-3000:]
    (trial,) = load_study(tmp_path, "ddp").trials
    assert states(load_study(tmp_path, "ddp")) == {"PRUNED": 1} and list(trial.intermediate_values) == [1, 2]
    log = (tmp_path / "multirun" / "ddp" / "0" / "trial.log").read_text()
    assert sorted(line for line in log.splitlines() if "stopped" in line) == [
        "rank 0 stopped at epoch 2",
        "rank 1 stopped at epoch 2",
    ]
    assert "epoch 3" not in log
    _, (run,) = sweep_runs(tmp_path, "ddp")
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert [step for step, _ in history(client, run.info.run_id, "val/loss")] == [1, 2]  # rank 0 alone logged
    assert run.data.tags["sweepwise.trial_state"] == "PRUNED"


@pytest.mark.parametrize("launcher", ["basic", "local"])
def test_each_job_of_a_multirun_is_a_finished_run_of_its_own_with_its_overrides(tmp_path: Path, launcher: str):
    """Hydra's basic launcher runs the jobs one after another in one process; sweepwise's local launcher in its
    worker processes."""
    args = ["-m", "a=1,2", "+b=x", f"hydra/launcher={launcher}"]
    done = run_script(REPORT_STEPS, args, tmp_path, python_flags=["-W", "error"])
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("report_steps").experiment_id], order_by=["run_name"])
    assert [(run.info.run_name, run.info.status, run.data.params) for run in runs] == [
        ("job-0", "FINISHED", {"a": "1", "b": "x"}),
        ("job-1", "FINISHED", {"a": "2", "b": "x"}),
    ]
    assert [history(client, run.info.run_id, "loss") for run in runs] == [[(1, 1.0), (2, 0.5)], [(1, 2.0), (2, 1.0)]]


@pytest.mark.slow
def test_a_sweeps_trial_reads_its_params_as_the_config_types_them_by_their_config_keys(tmp_path: Path):
    args = ["-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=1", "a=interval(1, 2)", "+b=3", "+c=[x, 0.5]"]
    done = run_script(REPORT_STEPS, args, tmp_path, python_flags=["-W", "error"])
    assert done.returncode == 0, done.stderr[-3000:]
    (trial,) = load_study(tmp_path, "report_steps").trials
    log = next((tmp_path / "multirun").glob("**/0/trial.log")).read_text()
    assert f"params: {{'a': {trial.params['a']!r}, 'b': 3, 'c': ['x', 0.5]}}" in log


def test_a_trial_that_has_ended_is_followed_by_a_new_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(TRIAL_VARIABLE, raising=False)
    with sweepwise.current_trial() as first:
        assert sweepwise.current_trial() is first
        first.report(1, {"val/loss": 1.0})
    second = sweepwise.current_trial()  # a second training in the same process, as in a notebook
    second.report(1, {"val/loss": 2.0})
    second.end()
    assert second is not first and second.run_id != first.run_id


def test_a_config_composed_outside_a_job_leaves_the_trial_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Hydra's compose API (a notebook, an in-process test) sets Hydra's config without a job or its output folder:
    the trial is the code's own, in the working folder."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(TRIAL_VARIABLE, raising=False)
    with initialize_config_dir(str(REPO / "tests" / "apps" / "conf"), version_base="1.3"):
        HydraConfig.instance().set_config(compose("toy", return_hydra_config=True))
        try:
            with sweepwise.current_trial() as trial:
                assert trial.facts.job is None and trial.folder == tmp_path / "checkpoints"
        finally:
            HydraConfig.instance().cfg = None  # type: ignore[assignment]  # as before this test


def test_runs_of_code_that_seeds_pythons_random_are_named_apart(tmp_path: Path):
    """MLflow names a run from Python's `random`: code that seeds it (Lightning's `seed_everything`) would give
    every run of its own the same name."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    names = set()
    for _ in range(3):
        random.seed(0)
        run = MlflowRun.start(store, "own", None, {})
        names.add(MlflowClient(store).get_run(run.run_id).info.run_name)
    assert len(names) == 3


def test_open_run_naming_a_run_after_the_run_is_open_is_refused_not_ignored(tmp_path: Path):
    trial = Trial(TrialFacts(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", ends_run=False))
    named = trial.open_run(experiment="mine", run_name="first")
    assert trial.open_run() is named  # asked again without naming another, the same run
    trial.report(1, {"val/loss": 0.5})
    with pytest.raises(ValueError, match=r"^trial.open_run\(...\) names a run, but the trial's run is open already"):
        trial.open_run(experiment="late")
    trial.end()
    client = MlflowClient(trial.facts.tracking_uri)
    assert client.get_experiment_by_name("late") is None and client.get_run(named.run_id).info.run_name == "first"
