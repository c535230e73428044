"""Population-based training end to end, as a user runs it: each generation's bottom members go on from a top
member's checkpoint with explored params, starting from exactly the copied weights and optimiser state (compared
tensor by tensor), with the lineage recorded in the study and in MLflow, locally, on SLURM, after a kill, and with
sweepwise's own training."""

import hashlib
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
from helpers import LIGHTNING_STRICT, REPO, TRAIN_PY, mlflow_client, refusal, run_script
from slurm_helpers import accounting, start, wait_for
from sweep_helpers import killed_once, load_study, most_at_once, study_so_far

from sweepwise.study.records import (
    CONTINUES_ATTR,
    PAUSED_ATTR,
    PBT_CHECKPOINT_ATTR,
    PBT_GENERATION_ATTR,
    PBT_PARENT_ATTR,
    RUN_ID_ATTR,
)
from sweepwise.study.trials import first_of_its_work

pytestmark = pytest.mark.slow
APP = REPO / "tests" / "apps" / "pbt_loop.py"
MEMBERS, EPOCHS = 4, 4


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def latest_of_each_member(study: optuna.Study) -> dict[int, optuna.trial.FrozenTrial]:
    latest = {}
    for trial in study.trials:
        latest[first_of_its_work(trial, study.trials)] = trial
    return latest


def check_population_trained_to_the_end(study: optuna.Study) -> None:
    """Every member trained every epoch, a generation per trial: nothing restarted, nothing left paused."""
    latest = latest_of_each_member(study)
    assert len(latest) == MEMBERS
    for trial in latest.values():
        assert trial.state.name == "COMPLETE" and sorted(trial.intermediate_values) == list(range(1, EPOCHS + 1))
    for trial in study.trials:
        if trial.state.name == "PRUNED":
            assert PAUSED_ATTR in trial.user_attrs
    assert len([t for t in study.trials if t.state.name != "FAIL"]) == MEMBERS * EPOCHS


def check_exploits_began_from_the_copied_checkpoints(sweep_dir: Path, study: optuna.Study) -> int:
    """Each member that went on from another's checkpoint began its next generation from exactly that checkpoint's
    weights and optimiser state (and with its own params), and the lineage names the checkpoint the parent saved at
    that step, a top member's, copied into a bottom member's folder. Returns how many did."""
    latest = latest_of_each_member(study)
    ended = ("COMPLETE", "PRUNED")
    # the first trial of each exploiting generation: not one interrupted, nor the one that went on with its work
    # (from a checkpoint of its own by then, maybe)
    exploits = [
        t
        for t in study.trials
        if PBT_PARENT_ATTR in t.user_attrs
        and t.state.name in ended
        and not study.trials[t.user_attrs[CONTINUES_ATTR]].user_attrs.get("interrupted")
    ]
    for trial in exploits:
        copied, parent = trial.user_attrs[PBT_CHECKPOINT_ATTR], trial.user_attrs[PBT_PARENT_ATTR]
        step, member = copied["step"], first_of_its_work(trial, study.trials)
        kept = sweep_dir / "kept" / f"{parent}-{step}.pt"
        assert copied["sha256"] == {"last.pt": sha256(kept)}, trial.number  # the parent's checkpoint at that step
        began, source = torch.load(sweep_dir / str(member) / f"began-{trial.number}.pt"), torch.load(kept)
        assert began["epoch"] == step
        for name, tensor in source["model"].items():
            assert torch.equal(began["model"][name], tensor), (trial.number, name)
        for index, state in source["optimizer"]["state"].items():
            moments = began["optimizer"]["state"][index]["momentum_buffer"]
            assert torch.equal(moments, state["momentum_buffer"]), (trial.number, index)
        (group,) = began["optimizer"]["param_groups"]
        assert (group["lr"], group["momentum"]) == (trial.params["lr"], trial.params["momentum"])
        assert trial.params != study.trials[copied["trial"]].params  # explored
        ranked = sorted(latest, key=lambda m: latest[m].intermediate_values[step])
        assert ranked.index(parent) == 0 and ranked.index(member) == MEMBERS - 1, (step, ranked)
    return len(exploits)


def check_lineage_in_mlflow(cwd: Path, study: optuna.Study, experiment: str) -> None:
    """One run per member, tags naming each parent, the params' history as metrics, and the lineage figure."""
    client = mlflow_client(cwd)
    latest = latest_of_each_member(study)
    runs = {trial.user_attrs[RUN_ID_ATTR] for trial in study.trials}
    assert len(runs) == MEMBERS
    for member, trial in latest.items():
        run = client.get_run(trial.user_attrs[RUN_ID_ATTR])
        history = client.get_metric_history(run.info.run_id, "pbt/lr")
        assert sorted(metric.step for metric in history) == list(range(1, EPOCHS + 1))  # each generation's first
        for continued in study.trials:
            if first_of_its_work(continued, study.trials) != member or CONTINUES_ATTR not in continued.user_attrs:
                continue
            generation = continued.user_attrs[PBT_GENERATION_ATTR]
            tag = run.data.tags.get(f"sweepwise.pbt.parent.generation_{generation}")
            assert tag == (
                str(continued.user_attrs[PBT_PARENT_ATTR]) if PBT_PARENT_ATTR in continued.user_attrs else None
            )
            at = {metric.step: metric.value for metric in history}[generation]  # (a generation per step)
            assert at == pytest.approx(continued.params["lr"])
    parent_run = study.user_attrs["mlflow_parent_run_id"]
    assert "plots/pbt_lineage.png" in [a.path for a in client.list_artifacts(parent_run, "plots")]


def test_bottom_members_go_on_from_exactly_the_copied_weights_and_optimiser_state(tmp_path: Path):
    done = run_script(APP, ["-m"], tmp_path, timeout=600, python_flags=["-W", "error"])
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "pbt_loop")
    check_population_trained_to_the_end(study)
    assert check_exploits_began_from_the_copied_checkpoints(tmp_path / "multirun" / "pbt_loop", study) >= EPOCHS - 1
    check_lineage_in_mlflow(tmp_path, study, "pbt_loop")
    assert most_at_once(study) <= 2
    assert "schedule pbt: the n_trials members pause every 1 step" in done.stdout
    assert "from trial" in done.stdout and "'s checkpoint, with its params explored" in done.stdout


def test_a_sweep_killed_mid_generation_runs_again_to_the_same_end_losing_no_members_work(tmp_path: Path):
    args = ["-m", "epoch_s=0.4"]
    # killed as a member goes on from another's checkpoint
    killed_once([sys.executable, str(APP), *args], tmp_path, "pbt_loop", lambda t: PBT_PARENT_ATTR in t.user_attrs)
    again = run_script(APP, args, tmp_path, timeout=600, python_flags=["-W", "error"])
    assert again.returncode == 0, again.stderr[-3000:]
    study = load_study(tmp_path, "pbt_loop")
    interrupted = [t for t in study.trials if t.state.name == "FAIL"]
    assert interrupted and all(t.user_attrs.get("interrupted") for t in interrupted)
    latest = latest_of_each_member(study)
    assert len(latest) == MEMBERS
    for trial in latest.values():
        assert trial.state.name == "COMPLETE" and max(trial.intermediate_values) == EPOCHS
    sweep_dir = tmp_path / "multirun" / "pbt_loop"
    assert check_exploits_began_from_the_copied_checkpoints(sweep_dir, study) >= 1
    for trial in study.trials:  # every continuation began from its work's last checkpoint: no epoch trained twice
        if CONTINUES_ATTR in trial.user_attrs and trial.state.name == "COMPLETE":
            earlier = study.trials[trial.user_attrs[CONTINUES_ATTR]]
            began = torch.load(sweep_dir / str(first_of_its_work(trial, study.trials)) / f"began-{trial.number}.pt")
            assert began["epoch"] >= max(earlier.intermediate_values, default=0) - 1


def exploit_running_with_its_start_saved(cwd: Path) -> optuna.trial.FrozenTrial | None:
    """A member going on from another's checkpoint, in a job, that has loaded the copy and saved what it began from."""
    study = study_so_far(cwd, "pbt_loop")
    for trial in study.trials if study is not None else []:
        if PBT_PARENT_ATTR in trial.user_attrs and trial.state.name == "RUNNING" and "job_id" in trial.user_attrs:
            member = first_of_its_work(trial, study.trials)
            if (cwd / "multirun" / "pbt_loop" / str(member) / f"began-{trial.number}.pt").exists():
                return trial
    return None


def test_on_slurm_a_preempted_exploit_resumes_from_the_copied_state_and_generations_run_as_jobs(slurm, tmp_path):
    on_slurm = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.poll_interval_s=1"]
    sweep = start(APP, ["-m", "epoch_s=3", *on_slurm], tmp_path)
    preempted = wait_for(lambda: exploit_running_with_its_start_saved(tmp_path), 300, "a member going on in a job")
    subprocess.run(["scancel", "--signal=USR2", preempted.user_attrs["job_id"]], check=True)
    assert sweep.wait(timeout=900) == 0, (tmp_path / "orchestrator.log").read_text()[-3000:]
    study = load_study(tmp_path, "pbt_loop")
    check_population_trained_to_the_end(study)
    assert check_exploits_began_from_the_copied_checkpoints(tmp_path / "multirun" / "pbt_loop", study) >= 1
    after = study.trials[preempted.number]  # requeued as the same trial, which began from the copy again
    assert after.state.name in ("COMPLETE", "PRUNED") and after.user_attrs["job_id"] == preempted.user_attrs["job_id"]
    tags = mlflow_client(tmp_path).get_run(after.user_attrs[RUN_ID_ATTR]).data.tags
    assert tags.get("sweepwise.slurm.restart_count") == "1", tags
    jobs = [t.user_attrs["job_id"] for t in study.trials]
    assert len(set(jobs)) == len(study.trials) and set(accounting(jobs).values()) == {"COMPLETED"}


def test_the_shipped_pbt_sweep_applies_each_generations_learning_rate_to_the_resumed_optimiser(tmp_path: Path):
    args = [
        "sweeps=pbt", f"hydra.sweeper.n_trials={MEMBERS}", "trainer.epochs=3", "data.max_chars=20000",
        "data.context=16", "model.width=32", "trainer.batch_size=32", "recipe.preflight=off",
        "tracking.log_model=false", "trainer.progress=plain",
    ]  # fmt: skip
    done = run_script(TRAIN_PY, args, tmp_path, timeout=600, python_flags=["-W", "error"])
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "pbt")
    assert len(latest_of_each_member(study)) == MEMBERS
    assert any(PBT_PARENT_ATTR in t.user_attrs for t in study.trials)
    client = mlflow_client(tmp_path)
    multipliers: dict[int, set[float]] = {}  # epoch: train/lr over the lr of the trial that trained it, per member
    for trial in study.trials:
        epoch = max(trial.intermediate_values)  # a generation per epoch: the one epoch this trial trained
        logged = {m.step: m.value for m in client.get_metric_history(trial.user_attrs[RUN_ID_ATTR], "train/lr")}
        multipliers.setdefault(epoch, set()).add(round(logged[epoch] / trial.params["optimizer.lr"], 9))
    assert sorted(multipliers) == [1, 2, 3] and all(len(ratios) == 1 for ratios in multipliers.values()), multipliers


def test_a_lightning_module_goes_on_from_another_members_checkpoint_with_its_own_learning_rate(tmp_path: Path):
    example = REPO / "examples" / "lightning" / "train.py"
    args = [
        "-m", "hydra/sweeper=optuna", "hydra/sweeper/schedule=pbt", "model.optimizer.lr=tag(log, interval(1e-3, 1e-1))",
        "hydra.sweeper.direction=maximize", f"hydra.sweeper.n_trials={MEMBERS}", "hydra.sweeper.n_jobs=2",
        "trainer.max_epochs=3", "hydra.sweep.dir=multirun/lightning",
    ]  # fmt: skip
    done = run_script(example, args, tmp_path, timeout=600, python_flags=LIGHTNING_STRICT)
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "train")
    latest = latest_of_each_member(study)
    assert len(latest) == MEMBERS and all(max(t.intermediate_values) == 3 for t in latest.values())
    assert any(PBT_PARENT_ATTR in t.user_attrs for t in study.trials)
    for member, trial in latest.items():  # each member's last checkpoint trained with its own last learning rate
        saved = torch.load(tmp_path / "multirun" / "lightning" / str(member) / "checkpoints" / "last.ckpt")
        (group,) = saved["optimizer_states"][0]["param_groups"]
        assert group["lr"] == trial.params["model.optimizer.lr"], member


def test_a_lightning_hydra_template_search_over_sizes_is_refused_for_pbt_in_one_line(tmp_path: Path):
    example = REPO / "examples" / "lightning" / "train.py"
    args = ["-m", "hparams_search=mnist_optuna", "hydra/sweeper/schedule=pbt"]
    done = run_script(example, args, tmp_path, timeout=300)
    assert done.returncode != 0
    assert refusal(done).startswith("error: hydra.sweeper.params.data.batch_size='choice(32, 64, 128, 256)': cannot")
    assert not (tmp_path / "multirun").exists() and not (tmp_path / "mlflow.db").exists()
