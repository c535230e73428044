"""Sweeps of a toy task: no batch barrier, failure tolerance, retries, resume after a killed orchestrator."""

import importlib.abc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from helpers import as_from_a_terminal, run_script
from mlflow import MlflowClient
from omegaconf import OmegaConf
from reliability import record
from sweep_helpers import TOY, load_study, run_toy, states, study_so_far, sweep_runs

from sweepwise.internals.hydra_internals import BASIC_LAUNCHER

pytestmark = pytest.mark.slow


def test_plugins_are_discovered_by_hydra():
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.sweeper import Sweeper

    assert "OptunaSweeper" in [p.__name__ for p in Plugins.instance().discover(Sweeper)]
    assert "LocalLauncher" in [p.__name__ for p in Plugins.instance().discover(Launcher)]


def test_ctrl_c_while_the_sweeper_imports_ends_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys):
    """The sweeper's first seconds are imports (MLflow): a Ctrl-C there ends the sweep as one anywhere else does."""
    from hydra_plugins.sweepwise_plugins.optuna_sweeper import OptunaSweeper

    class CtrlC(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "sweepwise.sweep.driver.sweeper":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "sweepwise.sweep.driver.sweeper", raising=False)
    monkeypatch.setattr(sys, "meta_path", [CtrlC(), *sys.meta_path])
    with pytest.raises(SystemExit) as ended:  # a launcher of no local workers: no fork server to start
        OptunaSweeper().setup(hydra_context=None, task_function=print, config=OmegaConf.create({"hydra": {}}))
    assert ended.value.code == 130
    assert capsys.readouterr().out == "sweep interrupted before it started: nothing was written\n"


def fork_servers_of_this_process() -> list[int]:
    """The multiprocessing fork servers this process has started and not reaped."""
    servers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"multiprocessing.forkserver" in command:
            servers.append(int(stat.parent.name))
    return servers


def test_ctrl_c_while_the_sweeper_imports_stops_the_worker_server_it_started(monkeypatch: pytest.MonkeyPatch):
    """Local workers' fork server starts as the sweeper gets its config; a Ctrl-C in the imports that follow
    stops it too, or the exit would wait seconds for it."""
    from hydra_plugins.sweepwise_plugins.optuna_sweeper import OptunaSweeper

    class CtrlC(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "sweepwise.sweep.driver.sweeper":
                raise KeyboardInterrupt
            return None

    before = fork_servers_of_this_process()
    monkeypatch.delitem(sys.modules, "sweepwise.sweep.driver.sweeper", raising=False)
    monkeypatch.setattr(sys, "meta_path", [CtrlC(), *sys.meta_path])
    config = OmegaConf.create({"hydra": {"launcher": {"_target_": BASIC_LAUNCHER}}})
    with pytest.raises(SystemExit):
        OptunaSweeper().setup(hydra_context=None, task_function=print, config=config)
    assert fork_servers_of_this_process() == before == []


def test_no_batch_barrier_short_trials_flow_past_a_long_one(tmp_path: Path):
    done = run_toy(
        ["hydra.sweeper.n_trials=8", "hydra.sweeper.n_jobs=2", "long_sleep=4", "short_sleep=0.2", "long_trials=[0]"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    trials = {t.number: t for t in load_study(tmp_path, "toy").trials}
    assert [t.state.name for t in trials.values()] == ["COMPLETE"] * 8
    long_start, long_end = trials[0].user_attrs["ran"]
    during = [t for n, t in trials.items() if n and long_start < t.user_attrs["ran"][0] < long_end]
    # with a batch barrier at most one other trial could start while trial 0 runs
    assert len(during) >= 5, [(n, t.user_attrs["ran"][0] - long_start) for n, t in trials.items()]
    gaps = sorted(
        later.user_attrs["ran"][0] - earlier.user_attrs["ran"][1]
        for earlier in during
        for later in during
        if later.number == earlier.number + 1
    )
    assert gaps and max(gaps) < 1.0  # the freed slot is refilled at once


@pytest.mark.reliability
def test_failures_and_nan_are_fail_with_reasons_and_the_sweep_goes_on(tmp_path: Path):
    done = run_toy(
        [
            "hydra.sweeper.n_trials=9",
            "hydra.sweeper.max_failure_rate=1.0",
            "hydra.sweeper.sampler.seed=3",
            "behaviour=choice(ok, raise, return_nan)",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    study = load_study(tmp_path, "toy")
    by_behaviour = {}
    for trial in study.trials:
        by_behaviour.setdefault(trial.params["behaviour"], []).append(trial)
    assert set(by_behaviour) == {"ok", "raise", "return_nan"}
    assert all(t.state.name == "COMPLETE" for t in by_behaviour["ok"])
    assert all(t.state.name == "FAIL" for t in by_behaviour["raise"] + by_behaviour["return_nan"])
    assert all("ValueError: planted failure" in t.user_attrs["fail_reason"] for t in by_behaviour["raise"])
    assert all("non-finite objective" in t.user_attrs["fail_reason"] for t in by_behaviour["return_nan"])
    _, children = sweep_runs(tmp_path, "toy")
    failed = [run for run in children if run.data.tags["sweepwise.trial_state"] == "FAIL"]
    assert len(failed) == len(by_behaviour["raise"]) + len(by_behaviour["return_nan"])
    assert all(run.info.status == "FAILED" and run.data.tags["sweepwise.fail_reason"] for run in failed)
    record(
        "fault",
        "trials that raise and trials that return NaN, mixed with healthy ones (9 trials)",
        f"{len(by_behaviour['raise'])} raised and {len(by_behaviour['return_nan'])} NaN trials are FAIL with their "
        f"reason in Optuna and MLflow; the {len(by_behaviour['ok'])} others COMPLETE; the sweep ended normally",
        "nothing but the failed trials' values",
    )


def test_max_failure_rate_over_the_whole_sweep_stops_it_with_a_clear_message(tmp_path: Path):
    done = run_toy(["hydra.sweeper.n_trials=10", "hydra.sweeper.max_failure_rate=0.2", "behaviour=raise"], tmp_path)
    assert done.returncode != 0
    assert "error: sweep stopped: 3 of 10 trials failed, more than max_failure_rate=0.2 allows (2)" in done.stderr
    assert (done.stdout + done.stderr).count("sweep stopped:") == 1  # the reason once, in the last line
    study = load_study(tmp_path, "toy")
    assert states(study) == {"FAIL": 3} or states(study) == {"FAIL": 4}  # the trial in flight also ends
    parents, _ = sweep_runs(tmp_path, "toy")
    assert [run.info.status for run in parents] == ["FAILED"]


@pytest.mark.reliability
def test_retries_rerun_a_trial_whose_process_died_but_not_one_that_raised(tmp_path: Path):
    done = run_toy(["hydra.sweeper.n_trials=3", "hydra.sweeper.retries=1", "behaviour=kill_once"], tmp_path)
    assert done.returncode == 0, done.stderr
    study = load_study(tmp_path, "toy")
    assert states(study) == {"COMPLETE": 3}
    assert all(trial.user_attrs["attempts"] == 2 for trial in study.trials)
    killed = run_toy(
        [
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.retries=0",
            "hydra.sweeper.max_failure_rate=1",
            "hydra.sweeper.study_name=killed",
            "behaviour=kill",
        ],
        tmp_path,
    )
    assert killed.returncode == 0, killed.stderr
    reasons = [t.user_attrs["fail_reason"] for t in load_study(tmp_path, "killed").trials]
    assert reasons == ["process killed by SIGKILL"] * 2
    record(
        "fault",
        "trial processes SIGKILLed, `retries=0`",
        "both trials FAIL with `process killed by SIGKILL`; the sweep ended normally",
        "the killed trials only",
    )
    raised = run_toy(
        [
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.retries=2",
            "hydra.sweeper.max_failure_rate=1",
            "hydra.sweeper.study_name=raised",
            "behaviour=raise",
        ],
        tmp_path,
    )
    assert raised.returncode == 0
    assert all("attempts" not in t.user_attrs for t in load_study(tmp_path, "raised").trials)


@pytest.mark.reliability
def test_a_killed_orchestrator_resumes_with_exactly_n_trials_and_no_duplicate_runs(tmp_path: Path):
    args = ["-m", "hydra.sweeper.n_trials=10", "hydra.sweeper.n_jobs=2", "short_sleep=0.7"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sweep = subprocess.Popen(
        [sys.executable, str(TOY), *args], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.3)
        study = study_so_far(tmp_path, "toy")
        if study and states(study).get("COMPLETE", 0) >= 3:
            break
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    before = load_study(tmp_path, "toy")
    finished_before = states(before).get("COMPLETE", 0)
    assert 3 <= finished_before < 10 and states(before).get("RUNNING", 0) >= 1

    again = run_toy(args[1:], tmp_path)
    assert again.returncode == 0, again.stderr
    study = load_study(tmp_path, "toy")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    interrupted = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(complete) == 10
    assert interrupted and all(t.user_attrs["fail_reason"].startswith("interrupted") for t in interrupted)
    # each interrupted trial's work goes on in a trial that continues it: same params, same run
    continuing = {t.user_attrs["continues"]: t for t in study.trials if "continues" in t.user_attrs}
    assert sorted(continuing) == [t.number for t in interrupted]
    for t in interrupted:
        assert continuing[t.number].params == t.params and continuing[t.number].state.name == "COMPLETE"
        assert continuing[t.number].user_attrs["mlflow_run_id"] == t.user_attrs["mlflow_run_id"]
    parents, children = sweep_runs(tmp_path, "toy")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    numbers = [int(run.data.tags["sweepwise.trial_number"]) for run in children]
    # one run per piece of work: every trial's, a continuation sharing the run of the trial it continues
    assert sorted(numbers) == sorted(t.number for t in study.trials if "continues" not in t.user_attrs)
    assert {t.user_attrs["mlflow_run_id"] for t in study.trials} == {run.info.run_id for run in children}
    assert all(run.info.status == "FINISHED" for run in children)
    assert "finished already" in again.stdout
    record(
        "fault",
        "the orchestrator SIGKILLed mid-sweep (local processes, 10 trials, 2 at once)",
        f"its trial processes died with it; the re-run failed the {len(interrupted)} trials left RUNNING as "
        "interrupted and continued each in a new trial with the same params and MLflow run; 10 COMPLETE",
        f"nothing: every trial COMPLETE before the kill ({finished_before}) was kept; one MLflow run per trial's work",
    )


def sweep_with_two_trials_running(args: list[str], cwd: Path) -> subprocess.Popen:
    """The toy sweep started in the background, once two of its trials run (its output piped)."""
    sweep = subprocess.Popen([sys.executable, str(TOY), *args], cwd=cwd, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.3)
        study = study_so_far(cwd, "toy")
        if study and states(study).get("RUNNING", 0) == 2:
            break
    return sweep


def test_the_same_sweep_started_again_while_it_runs_stops_in_one_line_and_leaves_the_first_alone(tmp_path: Path):
    # trials 0 and 1 run for half a minute, longer than the second command takes to start on a loaded machine; the
    # trials that continue their work (2 and 3) end at once
    args = ["-m", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2", "durations=[30, 30, 0, 0]"]
    first = sweep_with_two_trials_running(args, tmp_path)
    second = run_toy(args[1:], tmp_path)  # a second shell, or the same command again on a login node
    assert second.returncode == 1
    (line,) = [line for line in second.stderr.splitlines() if line.strip()]
    assert line.startswith("error: hydra.sweeper.study_name='toy': another sweep of this study is running, process")
    assert f"process {first.pid} on " in line
    assert states(load_study(tmp_path, "toy")) == {"RUNNING": 2}  # no trial failed as interrupted, none drawn
    assert first.poll() is None  # the first sweep runs on

    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=60)
    again = run_toy(args[1:], tmp_path)  # once it has ended, the same command is welcome and continues it
    assert again.returncode == 0, again.stderr
    assert states(load_study(tmp_path, "toy")) == {"FAIL": 2, "COMPLETE": 2}
    (parent,), _ = sweep_runs(tmp_path, "toy")
    assert parent.info.status == "FINISHED"


def test_sigterm_stops_a_sweep_as_ctrl_c_does_and_the_same_command_resumes_it(tmp_path: Path):
    args = ["-m", "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2", "short_sleep=3"]
    sweep = sweep_with_two_trials_running(args, tmp_path)
    sweep.send_signal(signal.SIGTERM)  # `kill <pid>`, or a cluster ending the job the sweep runs in
    out, _ = sweep.communicate(timeout=60)
    assert sweep.returncode == 143 and "sweep terminated (SIGTERM)" in out
    study = load_study(tmp_path, "toy")
    assert "RUNNING" not in states(study)  # its trials stopped and recorded, not left to run on
    assert all(t.user_attrs["fail_reason"].startswith("interrupted") for t in study.trials if t.state.name == "FAIL")
    (parent,), children = sweep_runs(tmp_path, "toy")
    assert parent.info.status == "KILLED" and "RUNNING" not in {run.info.status for run in children}

    again = run_toy(args[1:], tmp_path)
    assert again.returncode == 0, again.stderr
    assert states(load_study(tmp_path, "toy"))["COMPLETE"] == 4


def test_a_study_whose_mlflow_store_was_lost_goes_on_with_a_new_parent_run_and_its_trials_runs(tmp_path: Path):
    args = ["-m", "hydra.sweeper.n_trials=5", "hydra.sweeper.n_jobs=2", "short_sleep=0.7"]
    sweep = subprocess.Popen([sys.executable, str(TOY), *args], cwd=tmp_path, stdout=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.3)
        study = study_so_far(tmp_path, "toy")
        if study and states(study).get("COMPLETE", 0) >= 2 and states(study).get("RUNNING", 0):
            break
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    lost_parent = load_study(tmp_path, "toy").user_attrs["mlflow_parent_run_id"]
    (tmp_path / "mlflow.db").unlink()  # the store is gone; the study is not

    again = run_toy(args[1:], tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"the study's parent run {lost_parent} is not in this MLflow store" in again.stdout
    study = load_study(tmp_path, "toy")
    assert states(study)["COMPLETE"] == 5
    parents, children = sweep_runs(tmp_path, "toy")
    assert [run.info.run_id for run in parents] == [study.user_attrs["mlflow_parent_run_id"]] != [lost_parent]
    assert all(run.info.status == "FINISHED" for run in parents + children)
    # every trial's work has its run in the new store, a continuation the run of the trial it continues
    numbers = sorted(int(run.data.tags["sweepwise.trial_number"]) for run in children)
    assert numbers == sorted(t.number for t in study.trials if "continues" not in t.user_attrs)
    by_number = {t.number: t for t in study.trials}
    for trial in study.trials:
        if "continues" in trial.user_attrs:
            earlier = by_number[trial.user_attrs["continues"]]
            assert trial.user_attrs["mlflow_run_id"] == earlier.user_attrs["mlflow_run_id"]
            assert trial.user_attrs["mlflow_run_id"] in {run.info.run_id for run in children}


def test_a_study_back_on_its_first_mlflow_store_goes_on_under_its_parent_there(tmp_path: Path, monkeypatch):
    """Logged elsewhere for one run (MLFLOW_TRACKING_URI), then back: the first store's parent run and trial runs
    are the study's again, not doubled by a second parent; the parent shows the settings it runs with now."""
    assert run_toy(["hydra.sweeper.n_trials=2"], tmp_path).returncode == 0
    first_parent = load_study(tmp_path, "toy").user_attrs["mlflow_parent_run_id"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert run_toy(["hydra.sweeper.n_trials=3"], tmp_path).returncode == 0
    elsewhere = load_study(tmp_path, "toy").user_attrs["mlflow_parent_run_id"]
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    # the parent there names its best trial's run there, not the first store's run of that trial
    there = MlflowClient(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    tags = there.get_run(elsewhere).data.tags
    assert there.get_run(tags["best.run_id"]).data.tags["sweepwise.trial_number"] == tags["best.trial"]
    # the runs made there for the trials run in the first store name the runs they stand for
    _, first_children = sweep_runs(tmp_path, "toy")
    first_runs = {run.data.tags["sweepwise.trial_number"]: run.info.run_id for run in first_children}
    made = there.search_runs(
        [there.get_run(elsewhere).info.experiment_id], f"tags.`mlflow.parentRunId` = '{elsewhere}'"
    )
    recorded = {run.data.tags["sweepwise.trial_number"]: run.data.tags.get("sweepwise.recorded_run_id") for run in made}
    assert recorded == {**first_runs, "2": None}

    back = run_toy(["hydra.sweeper.n_trials=4"], tmp_path)
    assert back.returncode == 0, back.stderr
    assert f"the study's parent run {elsewhere} is not in this MLflow store: run {first_parent}" in back.stdout
    study = load_study(tmp_path, "toy")
    assert study.user_attrs["mlflow_parent_run_id"] == first_parent != elsewhere
    parents, children = sweep_runs(tmp_path, "toy")
    assert [run.info.run_id for run in parents] == [first_parent]
    assert sorted(int(run.data.tags["sweepwise.trial_number"]) for run in children) == [0, 1, 2, 3]
    # MLflow keeps a param's first value: the extension's n_trials is a tag beside it
    assert parents[0].data.params["sweeper.n_trials"] == "2"
    assert parents[0].data.tags["settings.sweeper.n_trials"] == "4"
    assert "fixed" not in parents[0].data.params  # a sweep without fixed overrides logs no empty group
    assert all(run.info.status == "FINISHED" for run in parents + children)


def test_a_sqlite_storage_url_holds_the_study_and_is_resumed(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    first = run_toy(["hydra.sweeper.n_trials=3", f"hydra.sweeper.storage={url}"], tmp_path)
    assert first.returncode == 0, first.stderr
    second = run_toy(["hydra.sweeper.n_trials=5", f"hydra.sweeper.storage={url}"], tmp_path)
    assert second.returncode == 0, second.stderr
    study = optuna.load_study(study_name="toy", storage=url)
    assert states(study) == {"COMPLETE": 5} and not (tmp_path / "studies").exists()
    assert "3 trials finished already (3 COMPLETE)" in second.stdout


def test_the_local_launcher_runs_a_plain_multirun_in_parallel_processes(tmp_path: Path):
    done = run_script(
        TOY,
        [
            "--config-name",
            "plain",
            "-m",
            "hydra/launcher=local",
            "hydra.launcher.n_workers=3",
            "x=0.1,0.2,0.3",
            "short_sleep=3",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    jobs = sorted((tmp_path / "multirun" / "plain").glob("[0-9]"))
    started = [(job / ".hydra" / "config.yaml").stat().st_mtime for job in jobs]
    assert max(started) - min(started) < 2.0  # one after another they would start 3 s apart
    assert [job.name for job in jobs] == ["0", "1", "2"]
    overrides = [(job / ".hydra" / "overrides.yaml").read_text() for job in jobs]
    assert all(f"x={x}" in text for x, text in zip(["0.1", "0.2", "0.3"], overrides, strict=True))


def test_a_continued_trials_number_is_shown_with_the_number_its_work_began_as(tmp_path: Path):
    """After a Ctrl-C, trials 2 and 3 continue the work of 0 and 1 in their folders and runs: every place a person
    reads a trial's number shows both, or leads from one to the other."""
    args = ["-m", "hydra.sweeper.n_trials=2", "behaviour=hang_once"]  # a first attempt hangs; its continuation ends
    sweep = subprocess.Popen(
        [sys.executable, str(TOY), *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        preexec_fn=as_from_a_terminal,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not all(
        (tmp_path / "multirun" / "toy" / f"{n}" / "hung-once").exists() for n in (0, 1)
    ):
        time.sleep(0.2)
    sweep.send_signal(signal.SIGINT)
    sweep.wait(timeout=60)
    again = run_toy(args[1:], tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    study = load_study(tmp_path, "toy")
    best = study.best_trial
    began = int(best.user_attrs["continues"])
    folder = tmp_path / "multirun" / "toy" / str(began)
    assert (
        f"best trial {best.number} (its work began as trial {began}: folder {folder}, MLflow run trial-{began})"
        in again.stdout
    )
    assert f"│ {best.number} (from {began}) │" in again.stdout  # the top trials table
    assert (tmp_path / "multirun" / "toy" / str(best.number)).resolve() == folder.resolve()  # a link to its work
    results = OmegaConf.load(tmp_path / "multirun" / "toy" / "optimization_results.yaml")
    assert results.best_trial == best.number and results.best_trial_folder == str(folder)
    _, children = sweep_runs(tmp_path, "toy")
    (run,) = [run for run in children if run.data.tags["sweepwise.trial_number"] == str(began)]
    assert run.info.run_name == f"trial-{began} (continued as {best.number})"
    assert run.data.tags["sweepwise.continued_as"] == str(best.number)


def test_ctrl_c_fails_the_running_trials_as_interrupted_and_ends_cleanly(tmp_path: Path):
    args = ["-m", "hydra.sweeper.n_trials=4", "short_sleep=30"]
    sweep = subprocess.Popen(
        [sys.executable, str(TOY), *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=as_from_a_terminal,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "multirun" / "toy" / "1" / ".hydra").exists():
        time.sleep(0.2)
    sweep.send_signal(signal.SIGINT)
    output, _ = sweep.communicate(timeout=60)
    assert sweep.returncode == 130 and "the same command resumes it" in output
    study = load_study(tmp_path, "toy")
    assert states(study) == {"FAIL": 2}
    assert all(t.user_attrs["fail_reason"].startswith("interrupted") for t in study.trials)
    parents, children = sweep_runs(tmp_path, "toy")
    assert [run.info.status for run in parents] == ["KILLED"]
    assert sorted(run.info.status for run in children) == ["KILLED", "KILLED"]  # their work goes on in them
