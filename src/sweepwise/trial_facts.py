"""What a trial is, as plain data that crosses processes: a sweep hands it to its task, and the task to the
processes it starts (DDP ranks) through the environment. Its link to the study is named by import path, so that
the trial API never imports the sweep or Optuna."""

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sweepwise.tracking.params import override_params

CHECKPOINTS = "checkpoints"  # a trial's folder for its checkpoints, in its job's output folder


class StudyLink(Protocol):
    """A sweep trial's link to its study: reports the `objective` metric's value and returns why the trial stops
    now ("pruned" by the pruner, "paused" by the schedule; never paused on its `last` step), or None; raises
    `TrialClosed` when the sweep has ended the trial already."""

    def __call__(self, step: int, value: float, last: bool = False, objective: str = "") -> str | None: ...


class TrialClosed(Exception):
    """The sweep ended this trial while this attempt of it still ran (the sweep was stopped, or the attempt's job
    cancelled, and a later trial goes on with its work): the attempt stops, and its end is not a failure of the
    trial's run."""


@dataclass(frozen=True)
class TrialFacts:
    """What a trial is, as plain data that crosses processes."""

    number: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # the trial's MLflow run (a sweep's child run), its store, and where a run of the code's own goes
    run_id: str | None = None
    tracking_uri: str | None = None
    parent_run_id: str | None = None
    run_name: str | None = None
    folder: str | None = None
    resuming: bool = False
    # False where the sweep ends the run, since the trial's verdict decides its final state
    ends_run: bool = True
    # params the run already has (a sweep's searched and fixed values): not logged again
    logged_params: tuple[str, ...] = ()
    # "module:callable" building the StudyLink from `link_facts` (a sweep's trial of a single-objective study)
    link: str | None = None
    link_facts: dict[str, Any] = field(default_factory=dict)
    # where rank 0 notes why the sweep pruned the trial, for the process that runs the task (rank 0 may be a
    # process it started)
    pruned_note: str | None = None
    # the output folder of the Hydra job a trial of the code's own belongs to: a plain multirun on Hydra's basic
    # launcher runs its jobs one after another in one process, each a trial of its own
    job: str | None = None
    # params a new run of the code's own starts with (its Hydra job's overrides)
    run_params: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> "TrialFacts":
        facts = json.loads(text)
        return cls(**{**facts, "logged_params": tuple(facts["logged_params"])})


def job_facts(
    number: int | None, overrides: Sequence[str], job: str | None = None, folder: str | None = None
) -> TrialFacts:
    """A Hydra job's trial of the code's own: its run named after the job's number in a multirun, with the job's
    overrides as its params."""
    params = override_params(overrides)
    return TrialFacts(
        run_name=f"job-{number}" if number is not None else None,
        folder=folder,
        logged_params=tuple(params),
        job=job,
        run_params=params,
    )
