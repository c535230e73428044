"""Where a trial's work lives: the continuations of an interrupted (or paused) trial run in the folder of the trial
they continue."""

from pathlib import Path

import optuna

from sweepwise.study.records import CONTINUES_ATTR


def continued_numbers(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """The trials whose work a later trial continues (queued or started): their ends are not results."""
    return {int(trial.user_attrs[CONTINUES_ATTR]) for trial in trials if CONTINUES_ATTR in trial.user_attrs}


def first_of_its_work(trial: optuna.trial.FrozenTrial, trials: list[optuna.trial.FrozenTrial]) -> int:
    """The number of the trial whose folder holds this trial's work: its own, or the first of the interrupted
    trials it continues (a continuation may itself be continued)."""
    return work_chain(trial, trials)[-1].number


def work_chain(
    trial: optuna.trial.FrozenTrial, trials: list[optuna.trial.FrozenTrial]
) -> list[optuna.trial.FrozenTrial]:
    """The trials of one piece of work, from `trial` back to the first: each continues the next."""
    chain = [trials[trial.number]]
    while CONTINUES_ATTR in chain[-1].user_attrs:
        chain.append(trials[int(chain[-1].user_attrs[CONTINUES_ATTR])])
    return chain


def trial_label(trial: optuna.trial.FrozenTrial, trials: list[optuna.trial.FrozenTrial]) -> str:
    """The trial's number as a person reads it, beside the number its work began under where they differ: that
    number names the work's folder and MLflow run (`4 (from 2)`)."""
    began = first_of_its_work(trial, trials)
    return str(trial.number) if began == trial.number else f"{trial.number} (from {began})"


def trial_folder(study: optuna.Study, trial: optuna.trial.FrozenTrial, sweep_dir: Path) -> Path:
    """The folder of a trial's config, checkpoints and log in the sweep's folder."""
    return sweep_dir / str(first_of_its_work(trial, study.get_trials(deepcopy=False)))
