"""The asha schedule end to end, as a user runs it: trials pause at their rungs and free their slots, the best go on
from their checkpoints in their own MLflow runs, and a sweep killed midway loses no work when it runs again."""

import itertools
import sys
from pathlib import Path

import optuna
import pytest
from helpers import LIGHTNING_STRICT, REPO, TRAIN_PY, mlflow_client, run_script, run_train
from slurm_helpers import accounting
from sweep_helpers import killed_once, load_study, most_at_once

from sweepwise.study.records import CONTINUES_ATTR, PAUSED_ATTR, RUN_ID_ATTR, RUNG_ATTR

pytestmark = pytest.mark.slow
EPOCHS, TRIALS = 4, 4  # rungs at epochs 1, 2 and 4 (the last): 4 trials, the top half of each rung goes on
BUDGETS = (1, 2, 4)
ASHA = ["hydra/sweeper/schedule=asha", "hydra.sweeper.schedule.reduction_factor=2"]
SWEEP = [
    "-m",
    "sweeps=random_lr_wd",
    "model=mlp",
    "model.width=32",
    "trainer.batch_size=64",
    "trainer.progress=plain",
    f"trainer.epochs={EPOCHS}",
    "recipe.preflight=off",
    f"hydra.sweeper.n_trials={TRIALS}",
    "hydra.sweeper.n_jobs=2",
    *ASHA,
]
OWN_LOOP = REPO / "examples" / "own_loop" / "train.py"


def latest_of_each_work(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    continued = {int(t.user_attrs[CONTINUES_ATTR]) for t in study.trials if CONTINUES_ATTR in t.user_attrs}
    return [t for t in study.trials if t.number not in continued]


def check_halving(study: optuna.Study) -> None:
    """ASHA's promise, in whatever order the trials ended: each drawn trial reached the first rung, the top half
    of the work at each rung went on to the next (none of it was left paused), and one piece of work trained to
    the end. (More than the top half may have gone on: a promotion made before the rung filled up stands.)"""
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    works = latest_of_each_work(study)
    assert len(works) == TRIALS and all(max(t.intermediate_values) >= BUDGETS[0] for t in works)
    for budget, following in itertools.pairwise(BUDGETS):
        reached = [t for t in works if max(t.intermediate_values) >= budget]
        ranked = sorted(reached, key=lambda t: t.intermediate_values[budget], reverse=maximize)
        top = ranked[: len(ranked) // 2]
        assert top and all(max(t.intermediate_values) >= following for t in top), (budget, ranked)
    assert [t.state.name for t in works].count("COMPLETE") == 1
    assert sum(max(t.intermediate_values) for t in works) < TRIALS * EPOCHS  # epochs trained


def check_each_work_logged_each_epoch_once(cwd: Path, study: optuna.Study, metric: str) -> None:
    client = mlflow_client(cwd)
    for trial in latest_of_each_work(study):
        run_id = trial.user_attrs[RUN_ID_ATTR]
        steps = [metric.step for metric in client.get_metric_history(run_id, metric)]
        assert sorted(steps) == list(range(1, max(trial.intermediate_values) + 1)), trial.number


def test_trials_pause_at_their_rungs_free_their_slots_and_the_best_go_on_in_their_own_runs(tmp_path: Path):
    done = run_train(SWEEP, tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "schedule asha: trials pause at steps 1, 2, 4, 8, ..." in done.stdout
    study = load_study(tmp_path, "random_lr_wd")
    check_halving(study)
    (finished,) = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert sorted(finished.intermediate_values) == [1, 2, 3, 4] and finished.user_attrs[RUNG_ATTR] == 2
    paused = [t for t in study.trials if t.state.name == "PRUNED"]
    assert len(paused) == len(study.trials) - 1 and all(PAUSED_ATTR in t.user_attrs for t in paused)
    assert {t.user_attrs[RUNG_ATTR] for t in paused} == {0, 1}
    assert most_at_once(study) <= 2  # a paused trial's process ends, and its slot goes to the next
    check_each_work_logged_each_epoch_once(tmp_path, study, "val/acc")
    client = mlflow_client(tmp_path)
    for trial in study.trials:
        if CONTINUES_ATTR in trial.user_attrs:  # it went on from the checkpoint its work paused at
            earlier = study.trials[int(trial.user_attrs[CONTINUES_ATTR])]
            tags = client.get_run(trial.user_attrs[RUN_ID_ATTR]).data.tags
            assert trial.user_attrs[RUN_ID_ATTR] == earlier.user_attrs[RUN_ID_ATTR]
            assert int(tags["sweepwise.resumed_from_epoch"]) >= max(earlier.intermediate_values)
    assert "PAUSED" in done.stdout and "continuing trial" in done.stdout


def test_a_sweep_killed_mid_schedule_runs_again_to_the_same_end_losing_no_work(tmp_path: Path):
    command = [sys.executable, str(TRAIN_PY), *SWEEP]
    killed_once(command, tmp_path, "random_lr_wd", lambda t: CONTINUES_ATTR in t.user_attrs)  # paused work going on
    again = run_train(SWEEP, tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    study = load_study(tmp_path, "random_lr_wd")
    assert "RUNNING" not in {t.state.name for t in study.trials}
    check_halving(study)
    check_each_work_logged_each_epoch_once(tmp_path, study, "val/acc")


def test_a_loop_of_ones_own_pauses_and_goes_on_through_the_trial_api(tmp_path: Path):
    args = ["-m", "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2", "epochs=4", *ASHA]
    done = run_script(OWN_LOOP, args, tmp_path, timeout=600, python_flags=["-W", "error"])
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "own_loop")
    check_halving(study)
    check_each_work_logged_each_epoch_once(tmp_path, study, "val/loss")
    logs = "".join(path.read_text() for path in (tmp_path / "multirun" / "own_loop").glob("*/trial.log"))
    assert "resumed from the checkpoint of epoch 2" in logs  # the work at rung 1 went on from its own epoch


def test_on_slurm_a_paused_trials_job_ends_and_its_work_goes_on_in_a_job_of_its_own(slurm, tmp_path: Path):
    on_slurm = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.poll_interval_s=2"]
    done = run_train([*SWEEP, *on_slurm], tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "random_lr_wd")
    check_halving(study)
    jobs = [t.user_attrs["job_id"] for t in study.trials]
    assert len(set(jobs)) == len(study.trials)  # a promotion is a new job, not the paused one held
    assert set(accounting(jobs).values()) == {"COMPLETED"}  # a pause ends a job as any stop does
    check_each_work_logged_each_epoch_once(tmp_path, study, "val/acc")


def test_a_lightning_module_pauses_and_goes_on_from_its_last_checkpoint(tmp_path: Path):
    example = REPO / "examples" / "lightning" / "train.py"
    args = ["-m", "hparams_search=mnist_optuna", "hydra.sweep.dir=multirun/lightning", "trainer.max_epochs=4"]
    args += ["hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2", *ASHA]
    done = run_script(example, args, tmp_path, timeout=600, python_flags=LIGHTNING_STRICT)
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "train")
    check_halving(study)
    check_each_work_logged_each_epoch_once(tmp_path, study, "val/acc")
