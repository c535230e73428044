"""A sweep's mistakes are caught before anything is written, each with one line naming what was typed."""

from pathlib import Path

import optuna
import pytest
from helpers import TINY, run_train
from sweep_helpers import load_study, run_toy

pytestmark = pytest.mark.slow


def one_error_line(done) -> str:
    assert done.returncode == 1, done.stdout[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["sweeps=random_lr_wd", "objective.metric=val/accuracy"],
            "error: objective.metric='val/accuracy': task=classification reports val/acc, val/loss, train/loss",
        ),
        (
            ["-m", "optimizer.lr=tag(log, interval(0.001, 0.1))"],
            "error: optimizer.lr='tag(log, interval(0.001, 0.1))': sampling needs the optuna sweeper",
        ),
        (
            ["sweeps=random_lr_wd", "model.widht=choice(16, 32)"],
            "error: model.widht='choice(16, 32)': Could not override 'model.widht'. The config has no such key: "
            "check its spelling, or add it as +model.widht",
        ),
        (
            ["sweeps=random_lr_wd", "trainer.batch_size=choice(32, 0)"],
            "error: trainer.batch_size=0: must be >= 1 (the search space can draw trainer.batch_size=0)",
        ),
        (
            ["sweeps=random_lr_wd", "trainer.devices=2", "trainer.batch_size=int(interval(32, 34))"],
            "error: trainer.devices=2: must divide trainer.batch_size=33 (the search space can draw "
            "trainer.batch_size=33)",
        ),
        (["sweeps=random_lr_wd", "optimizer.lr=interval(0, 0.1)"], "error: optimizer.lr=0.0: must be > 0"),
        (
            ["sweeps=random_lr_wd", "objective.metric=val/loss", "objective.direction=maximize"],
            "error: objective.direction='maximize': val/loss is better lower: minimize it, or leave the direction "
            "out to follow the metric",
        ),
    ],
    ids=[
        "misspelt objective metric",
        "interval without a sweep",
        "misspelt key in a choice",
        "a choice a run refuses",
        "an integer range with values a run refuses",
        "an interval bound a run refuses",
        "a loss maximised",
    ],
)
def test_sweep_mistakes_stop_in_one_line_before_anything_is_written(tmp_path: Path, args: list[str], expected: str):
    flags = [arg for arg in args if arg.startswith("-")]  # Hydra's flags first; the searched values last: they win
    line = one_error_line(run_train([*flags, *TINY, *(arg for arg in args if arg not in flags)], tmp_path))
    assert line.startswith(expected), line
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "studies").exists()


def test_a_journal_in_a_new_folder_is_created_and_the_first_line_says_so(tmp_path: Path):
    from sweep_helpers import run_toy

    journal = tmp_path / "new" / "folder" / "toy.journal"
    done = run_toy([f"hydra.sweeper.storage={journal}", "hydra.sweeper.n_trials=1"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    first = next(line for line in done.stdout.splitlines() if ": study toy (" in line)
    assert f"({journal}; its folder was created)" in first and journal.is_file()


def test_a_sweep_stopped_before_its_first_trial_ends_its_worker_processes(tmp_path: Path):
    # the preflight meets the missing file after the worker processes started: the sweep must still exit
    done = run_train(["sweeps=random_lr_wd", *TINY, "data=csv", f"data.path={tmp_path / 'nope.csv'}"], tmp_path, 120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: data.path=")


def test_a_sweep_on_a_loss_minimises_it_without_being_told(tmp_path: Path):
    """`objective.metric=val/loss` alone: the study minimises, and its best trial is the one of the lowest loss."""
    args = [
        "sweeps=random_lr_wd",
        *TINY,
        "objective.metric=val/loss",
        "hydra.sweeper.n_trials=3",
        "recipe.preflight=off",
    ]
    done = run_train(args, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    study = load_study(tmp_path, "random_lr_wd")
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert study.best_value == min(trial.value for trial in study.trials if trial.value is not None)
    assert f"best trial {study.best_trial.number}: value {study.best_value:.4g}" in done.stdout


def test_a_second_study_in_another_studys_folder_is_refused_before_it_writes(tmp_path: Path):
    """Trial folders are named by number: two studies in one folder would resume from each other's checkpoints."""
    shared = ["hydra.sweep.dir=multirun/shared", "hydra.sweeper.n_trials=1"]
    first = run_toy([*shared, "hydra.sweeper.study_name=first"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    second = run_toy([*shared, "hydra.sweeper.study_name=second"], tmp_path)
    folder = tmp_path / "multirun" / "shared"
    assert one_error_line(second) == (
        f"error: hydra.sweep.dir='{folder}': holds the trial folders of study 'first' "
        f"({tmp_path / 'studies' / 'first.journal'}), which this study's trials would share: give each study its "
        "own folder, e.g. hydra.sweep.dir=multirun/${hydra.sweeper.study_name}"
    )
    assert not (tmp_path / "studies" / "second.journal").exists()
    again = run_toy([*shared, "hydra.sweeper.study_name=first", "hydra.sweeper.n_trials=2"], tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]  # the folder's own study continues there
    assert len(load_study(tmp_path, "first").trials) == 2


def test_a_command_line_key_without_the_files_plus_is_refused_as_that_key(tmp_path: Path):
    """The sweep file searches `+momentum`, a key the app's config lacks; `momentum=...` on the command line
    replaces it, as any command-line key replaces the file's, and is refused as the sweep file's own would be,
    before anything is written (not searched beside it as a second parameter of the same name)."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "searched.yaml").write_text(
        "defaults:\n  - toy\n  - _self_\nhydra:\n  sweeper:\n    params:\n      +momentum: interval(0.5, 0.95)\n"
    )
    args = ["--config-dir", str(tmp_path / "conf"), "--config-name", "searched", "momentum=interval(0.5, 0.9)"]
    line = one_error_line(run_toy(args, tmp_path))
    assert line == (
        "error: momentum='interval(0.5, 0.9)': Could not override 'momentum'. The config has no such key: check its "
        "spelling, or add it as +momentum"
    )
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "studies").exists()
