"""The trial a sweep hands its task: the trial's MLflow run, its folder, whether it continues an attempt that died,
and (for a single-objective study) the link that reports to the study and hears the pruner."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
from hydra.utils import instantiate
from optuna.exceptions import UpdateFinishedTrialError

from sweepwise.errors import ConfigError
from sweepwise.spec.schema import direction_by_name
from sweepwise.spec.sweep_schedule import schedule_from_facts
from sweepwise.study.records import CHECKPOINTS_ATTR, PAUSED_ATTR, RUNG_ATTR
from sweepwise.study.storage import open_storage
from sweepwise.sweep.outcome import PAUSED
from sweepwise.sweep.trial.child_runs import open_child_run
from sweepwise.sweep.trial.trial_context import TrialContext
from sweepwise.tracking.params import mlflow_name
from sweepwise.trial_api import Trial
from sweepwise.trial_facts import CHECKPOINTS, TrialClosed, TrialFacts

PRUNED_NOTE = "pruned.txt"  # in a pruned trial's folder: why


def pruned_reason(trial: Trial) -> str | None:
    """Why the sweep pruned the trial, as the process that reported heard it (this one, or one the task started)."""
    note = trial.facts.pruned_note
    if trial.pruned or note is None or not Path(note).is_file():
        return trial.pruned
    return Path(note).read_text()


def _link_folder(output_dir: Path, number: int) -> None:
    """A trial that continues another's work works in that trial's folder: its own number, beside it, links there,
    so that the folder a person looks for by the trial's number is found (Hydra's numbered folders only)."""
    link = output_dir.parent / str(number)
    if output_dir.name.isdigit() and output_dir.name != str(number) and not link.exists() and not link.is_symlink():
        link.symlink_to(output_dir.name, target_is_directory=True)


def sweep_trial(context: TrialContext, output_dir: Path) -> Trial:
    """The trial's handle, with its MLflow run open (the sweep ends it once it knows how the trial ended), its
    folder in the job's output folder. A trial of a multi-objective study only logs: Optuna cannot prune those."""
    single = len(context.directions) == 1
    _link_folder(output_dir, context.trial_number)
    note = output_dir / PRUNED_NOTE
    note.unlink(missing_ok=True)  # an earlier attempt's
    checkpoints = output_dir / CHECKPOINTS
    if context.schedule:  # where paused work goes on from (and a pbt member that exploits this one copies)
        open_storage(context.storage).set_trial_user_attr(context.trial_id, CHECKPOINTS_ATTR, str(checkpoints))
    facts = TrialFacts(
        number=context.trial_number,
        params={key.lstrip("+"): value for key, value in context.params.items()},  # as the task's config has them
        run_id=open_child_run(context),
        tracking_uri=context.tracking_uri,
        folder=str(checkpoints),
        resuming=context.attempt > 0,
        ends_run=False,
        logged_params=tuple(mlflow_name(key) for key in context.params),
        link=f"{__name__}:{StudyReporter.__name__}" if single else None,
        link_facts={
            "study_name": context.study_name,
            "storage": context.storage,
            "trial_id": context.trial_id,
            "pruner": context.pruner,
            "schedule": context.schedule,
        },
        pruned_note=str(note),
    )
    return Trial(facts)


class StudyReporter:
    """Reports the objective to the trial's Optuna trial (every step: the intermediate-values plot needs it even
    without a pruner, whose stand-in never stops a trial) and returns why the trial stops: the pruner's word, or
    the schedule's pause as the trial reaches a rung (its checkpoint written: training code checkpoints before it
    reports).

    The pruner is not stored with the study, so it is rebuilt here from the same config as the orchestrator's.
    """

    def __init__(self, facts: Mapping[str, Any]) -> None:
        pruner = instantiate(facts["pruner"]) if facts["pruner"] else None
        self.schedule = schedule_from_facts(facts.get("schedule"))
        storage = open_storage(facts["storage"])
        study = optuna.load_study(study_name=facts["study_name"], storage=storage, pruner=pruner)
        self.trial = optuna.trial.Trial(study, facts["trial_id"])
        # steps an earlier attempt of this trial reported (a resumed trial replays its checkpoint's step)
        self.reported = set(storage.get_trial(facts["trial_id"]).intermediate_values)
        self.judged: set[str] = set()  # the objectives whose name was checked against the study's direction

    def __call__(self, step: int, value: float, last: bool = False, objective: str = "") -> str | None:
        if objective not in self.judged:
            check_reported_objective(objective, self.trial.study.direction)
            self.judged.add(objective)
        rung = None
        try:
            if step not in self.reported:  # a step replayed from the checkpoint has paused the trial once already
                if self.schedule is not None:
                    rung = self.schedule.crossed(max(self.reported, default=0), step)
                self.trial.report(value, step=step)
                self.reported.add(step)
        except UpdateFinishedTrialError as closed:
            raise TrialClosed(f"trial {self.trial.number} was ended by its sweep while this attempt ran") from closed
        if rung is not None:
            self.trial.set_user_attr(RUNG_ATTR, rung)
            if not last:  # a training's last step ends it: nothing is left to go on with
                self.trial.set_user_attr(PAUSED_ATTR, rung)
                return PAUSED
        return "pruned" if self.trial.should_prune() else None


def check_reported_objective(objective: str, direction: optuna.study.StudyDirection) -> None:
    """A trial that reports a metric whose name says it improves the other way than the study's direction (a loss
    to a maximising sweep) would have the pruner and the sampler keep the worst trials: one line instead."""
    improves = direction_by_name(objective)
    swept = "maximize" if direction == optuna.study.StudyDirection.MAXIMIZE else "minimize"
    if improves is not None and improves != swept:
        raise ConfigError(
            "hydra.sweeper.direction",
            swept,
            f"the trial reports objective={objective!r}, which its name says is better "
            f"{'lower' if improves == 'minimize' else 'higher'}: set hydra.sweeper.direction={improves}, or report "
            f"the metric the sweep should {swept}",
        )
