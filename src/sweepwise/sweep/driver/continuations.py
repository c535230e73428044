"""What a schedule continues when a slot frees up: asha's promotion, or the next generation of population-based
training, whose copied checkpoints and lineage are written before any of its members goes on."""

import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from sweepwise.spec.sweep_schedule import Asha, Pbt, Schedule
from sweepwise.study.records import (
    CHECKPOINTS_ATTR,
    CONTINUES_ATTR,
    PAUSED_ATTR,
    PBT_CHECKPOINT_ATTR,
    PBT_GENERATION_ATTR,
    PBT_PARENT_ATTR,
    RUN_ID_ATTR,
)
from sweepwise.sweep.driver.population import GoOn, next_generation, paused_members
from sweepwise.sweep.driver.progress import SweepProgress
from sweepwise.sweep.driver.rungs import promotion
from sweepwise.sweep.driver.tracker import SweepTracker
from sweepwise.tracking.params import mlflow_name

PARENT_TAG = "sweepwise.pbt.parent.generation_{}"  # on a member's run: the member whose checkpoint it copied
MEMBER_TAG = "sweepwise.pbt.member"
PARAM_METRIC = "pbt/{}"  # a member's hyperparameter at the first step of each generation: its history


def has_continuation(trials: list[FrozenTrial], schedule: Schedule | None, maximize: bool) -> bool:
    """Whether the schedule would continue paused work now (asha: a promotion is due; pbt: any member is paused)."""
    if isinstance(schedule, Asha):
        return promotion(trials, schedule, maximize) is not None
    if isinstance(schedule, Pbt):
        return bool(paused_members(trials))
    return False


class Continuations:
    """Queues, in the study, the continuation of paused work that the next launch takes up.

    A pbt generation is decided once, from the study; its checkpoints are copied, then the decision is recorded on
    the study (`pbt_generation_<g>`), then each member's next trial is queued. A re-run after a kill before the
    record decides the same again and copies from the same, unchanged checkpoints; one after it queues what the
    record holds, copying nothing again.
    """

    def __init__(
        self,
        study: optuna.Study,
        schedule: Schedule,
        distributions: Mapping[str, BaseDistribution],
        tracker: SweepTracker,
        progress: SweepProgress,
    ) -> None:
        self.study, self.schedule, self.distributions = study, schedule, distributions
        self.tracker, self.progress = tracker, progress
        self.maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE

    def next(self, new_left: bool, running: bool) -> FrozenTrial | None:
        """The paused trial whose work the next launch continues (queued now), or None: start a new trial, or
        wait. Asha promotes before new trials start; pbt starts its whole population first, and decides a
        generation once none of its members runs."""
        trials = self.study.get_trials(deepcopy=False)
        if isinstance(self.schedule, Asha):
            paused = promotion(trials, self.schedule, self.maximize)
            if paused is not None:
                self._say_if_unsaved(paused)
                self.study.enqueue_trial(paused.params, user_attrs={CONTINUES_ATTR: paused.number})
            return paused
        if new_left:
            return None
        queued = self._queue_generation(trials, decide=not running)
        return trials[int(queued[0].user_attrs[CONTINUES_ATTR])] if queued else None

    def _queue_generation(self, trials: list[FrozenTrial], decide: bool) -> list[FrozenTrial]:
        """Queue the paused members of the next generation that its recorded decision holds, deciding it first
        if no member is running or queued (`decide`); the continuations queued."""
        assert isinstance(self.schedule, Pbt)
        paused = paused_members(trials)
        queued = [t for t in trials if t.state == TrialState.WAITING and CONTINUES_ATTR in t.user_attrs]
        if not paused:
            return queued
        reached = min(int(t.user_attrs[PAUSED_ATTR]) for t in paused.values())
        key = f"{PBT_GENERATION_ATTR}_{reached + 1}"  # the generation they go on to train
        decided: list[dict[str, Any]] = self.study.user_attrs.get(key, [])
        recorded = {member["paused"] for member in decided}
        # members a recorded decision does not hold: all of them, or members a larger n_trials added later
        cohort = {m: t for m, t in paused.items() if t.user_attrs[PAUSED_ATTR] == reached and t.number not in recorded}
        if cohort and decide and not queued:
            goes_on = next_generation(cohort, self.schedule, self.distributions, self.maximize)
            decided = [*decided, *(self._copied(member, trials) for member in goes_on)]
            self.study.set_user_attr(key, decided)
        waiting = {t.number for t in paused.values()}
        for member in decided:
            if member["paused"] in waiting:
                self._queue(member, trials)
        return [t for t in self.study.get_trials(deepcopy=False) if t.state == TrialState.WAITING]

    def _copied(self, member: GoOn, trials: list[FrozenTrial]) -> dict[str, Any]:
        """The member's decision as recorded, once its parent's checkpoint is copied: one that cannot copy goes on
        from its own checkpoint with its own params."""
        self._say_if_unsaved(trials[member.paused])
        checkpoint = self._copy(member, trials)
        if member.parent is not None and checkpoint is None:
            member = replace(member, params=dict(trials[member.paused].params), parent=None, parent_trial=None)
        return {**asdict(member), "checkpoint": checkpoint}

    def _say_if_unsaved(self, paused: FrozenTrial) -> None:
        """A line when paused work's folder holds no checkpoint written since its trial started: the code stopped
        on the report's word before saving, and the work goes on from an older checkpoint, or from its start."""
        folder, started = paused.user_attrs.get(CHECKPOINTS_ATTR), paused.datetime_start
        if folder is None or started is None:
            return
        written = [path.stat().st_mtime for path in Path(folder).rglob("*") if path.is_file()]
        if not written or max(written) < started.timestamp():
            older = "an older checkpoint" if written else "its start"
            self.progress.event(
                f"trial {paused.number} paused at step {max(paused.intermediate_values, default=0)} without saving a "
                f"checkpoint in {folder}: its work goes on from {older} (save before stopping on report's word)"
            )

    def _queue(self, member: dict[str, Any], trials: list[FrozenTrial]) -> None:
        """Queue the member's next generation, with its lineage, and log that lineage on its run."""
        generation = member["generation"]
        attrs: dict[str, Any] = {CONTINUES_ATTR: member["paused"], PBT_GENERATION_ATTR: generation}
        tags = {MEMBER_TAG: str(member["member"])}
        if member["checkpoint"] is not None:
            attrs[PBT_PARENT_ATTR], attrs[PBT_CHECKPOINT_ATTR] = member["parent"], member["checkpoint"]
            tags[PARENT_TAG.format(generation)] = str(member["parent"])
        self.study.enqueue_trial(member["params"], user_attrs=attrs)
        paused = trials[member["paused"]]
        run_id = paused.user_attrs.get(RUN_ID_ATTR)
        if not run_id:
            return
        first_step = self.schedule.budget(generation - 1) + 1  # the first step trained with them
        self.tracker.log_child(run_id, param_history(member["params"]), tags, first_step)
        if paused.number == member["member"]:  # the member's first generation: the params it began with
            self.tracker.log_child(run_id, param_history(paused.params), {}, step=1)

    def _copy(self, member: GoOn, trials: list[FrozenTrial]) -> dict[str, Any] | None:
        """Copy the parent's checkpoint folder over the member's: the record of what was copied (None: the
        member exploits no one, or the parent left no checkpoint and the member goes on from its own, as the line
        printed says)."""
        if member.parent_trial is None:
            return None
        parent, paused = trials[member.parent_trial], trials[member.paused]
        source, target = parent.user_attrs.get(CHECKPOINTS_ATTR, ""), paused.user_attrs.get(CHECKPOINTS_ATTR, "")
        files = sorted(path for path in Path(source).rglob("*") if path.is_file()) if source else []
        if not files or not target:
            self.progress.event(
                f"pbt: trial {member.member} does not copy trial {member.parent}'s checkpoint: its folder "
                f"{source} holds none; it goes on from its own"
            )
            return None
        replace_folder(Path(source), Path(target))
        step = max(parent.intermediate_values, default=0)
        self.progress.event(
            f"pbt: trial {member.member} goes on into generation {member.generation} from trial {member.parent}'s "
            f"checkpoint at step {step}, with {readable_params(member.params)}"
        )
        digests = {str(path.relative_to(source)): sha256(path) for path in files}
        return {"trial": parent.number, "step": step, "folder": source, "sha256": digests}


def param_history(params: Mapping[str, Any]) -> dict[str, float]:
    """The numeric params as the metrics of a member's param history (`pbt/<param>`)."""
    return {PARAM_METRIC.format(mlflow_name(key)): value for key, value in params.items() if _number(value)}


def readable_params(params: Mapping[str, Any]) -> str:
    return " ".join(f"{key}={value:.4g}" if _number(value) else f"{key}={value}" for key, value in params.items())


def replace_folder(source: Path, target: Path) -> None:
    """`target` becomes a copy of `source`, swapped in whole: a kill mid-copy leaves the old folder or the new."""
    staged, old = target.with_name(f"{target.name}.pbt-copy"), target.with_name(f"{target.name}.pbt-old")
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(source, staged)
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
