"""The trial a piece of training code runs as: the one interface between any training code and a sweep.

    trial = sweepwise.current_trial()
    start = load(trial.folder / "last.pt") if trial.resuming else 0
    for epoch in range(start + 1, epochs + 1):
        ...
        if trial.report(epoch, {"val/loss": val_loss, "train/loss": train_loss}, objective="val/loss"):
            raise sweepwise.TrialPruned()  # or stop and return: the sweep records the trial PRUNED either way

In a sweep's trial, `report` logs to the trial's MLflow run, reports the objective to the study and says when the
pruner stops the trial. Outside a sweep the same calls log to a run of the code's own (ended with its `with` block
or the process: FAILED on an uncaught error) and nothing prunes. In a multi-process trial every rank reports at
the same steps: rank 0 logs and reports, and its word to stop reaches every rank. A sweep hands the trial to the
task, and to the processes it starts (DDP ranks) through the environment, as plain facts (`TrialFacts`) that name
the sweep's link to its study by import path: this module never imports the sweep or Optuna.
"""

import atexit
import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from sweepwise.report_arguments import next_step, objective_name, one_number_each, scalar_metrics, whole_step
from sweepwise.tracking.mlflow_run import MlflowRun, resolve_tracking_uri
from sweepwise.tracking.retry import gave_up
from sweepwise.trial_facts import CHECKPOINTS, StudyLink, TrialClosed, TrialFacts, job_facts

# the trial handed to processes the task starts: TrialFacts as JSON
TRIAL_VARIABLE = "SWEEPWISE_TRIAL"
DEFAULT_EXPERIMENT = "Default"  # MLflow's own, outside a Hydra job
MAX_PENDING_METRICS = 1000  # logged metrics held for one batched call


class TrialPruned(Exception):
    """Raised by a task to end its trial PRUNED (after `report` said stop); outside a sweep, it ends the run."""


class Trial:
    """One trial's handle: its number, params, MLflow run, folder and reports."""

    def __init__(self, facts: TrialFacts | None = None) -> None:
        self.facts = facts = facts or TrialFacts()
        self.number, self.params, self.resuming = facts.number, dict(facts.params), facts.resuming
        self.run: MlflowRun | None = None
        self.pruned: str | None = None  # why the sweep stopped the trial (its pruner), once it has
        # set when the cluster is about to requeue the trial: the exit that follows is not the run's failure
        self.requeued = False
        self.last_step: int | None = None  # the step last reported (each report's must be above it)
        self._link: StudyLink | None = None
        self._ended = False
        self._ends_at_exit = False  # whether the process's exit ends the run
        self._pending: list[tuple[int, Mapping[str, float]]] = []
        self._pending_count = 0  # the metrics `_pending` holds
        self._history_ends: dict[str, float] = {}

    @property
    def folder(self) -> Path:
        """The trial's own folder, the same for every attempt of it: checkpoints go here."""
        # outside a sweep: its Hydra job's output folder's `checkpoints`; outside Hydra, the working directory's
        folder = Path(self.facts.folder) if self.facts.folder else Path(_job_output_dir() or Path.cwd()) / CHECKPOINTS
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def rank(self) -> int:
        """This process's rank in the trial's process group (0 without one): rank 0 alone logs and reports."""
        group = _process_group()
        return int(group.get_rank()) if group is not None else int(os.environ.get("RANK", "0"))

    @property
    def run_id(self) -> str | None:
        """The trial's MLflow run (opened on first use on rank 0); other ranks know only a sweep trial's run."""
        return self.facts.run_id if self.rank != 0 else self.open_run().run_id

    def open_run(
        self,
        experiment: str | None = None,
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        tracking_uri: str | None = None,
        parent_run_id: str | None = None,
        resume_run_id: str | None = None,
        every: int = 0,
    ) -> MlflowRun:
        """The trial's MLflow run: a sweep trial's own run, reopened; else a new run in `experiment` (default:
        `MLFLOW_EXPERIMENT_NAME`, else the Hydra job's name, as in a sweep the study's) of the store
        `tracking_uri` names (default: `MLFLOW_TRACKING_URI`, else ./mlflow.db), under `parent_run_id` (or a plain
        multirun's parent), or `resume_run_id` reopened. `every` > 0: the run keeps per-step losses. Called again
        without arguments, it returns the run already open; with them, it refuses: they would name another run."""
        named = (experiment, run_name, tags, tracking_uri, parent_run_id, resume_run_id)
        if self.run is not None and (every or any(value is not None for value in named)):
            raise ValueError("trial.open_run(...) names a run, but the trial's run is open already: call it first")
        if self.run is None:
            facts = self.facts
            self.run = MlflowRun.start(
                uri=facts.tracking_uri or resolve_tracking_uri(tracking_uri),
                experiment=experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or _job_name(),
                run_name=run_name or facts.run_name,
                tags=dict(tags or {}),
                parent_run_id=parent_run_id or facts.parent_run_id,
                resume_run_id=facts.run_id or resume_run_id,
                every=every,
            )
            if facts.run_params and not (facts.run_id or resume_run_id):
                self.run.log_params(facts.run_params)
            self._end_with_process()
        return self.run

    def _end_with_process(self) -> None:
        """A run of the code's own ends (and what `log` holds is logged) when the process does, once."""
        if self.facts.ends_run and not self._ends_at_exit:
            self._ends_at_exit = True
            atexit.register(self._end_at_exit, getattr(sys, "last_value", None))

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Log `metrics` at `step` on rank 0, batched: held until the next report (or a thousand of them)."""
        if self.rank != 0:
            return
        self._pending.append((whole_step(step), one_number_each(metrics)))
        self._pending_count += len(metrics)
        self._end_with_process()  # held metrics reach the run even if nothing else opens it
        if self._pending_count >= MAX_PENDING_METRICS:
            self.flush()

    def flush(self) -> None:
        """Log the metrics `log` holds, in one batched write (a write per step would cost a store transaction
        each). An attempt that resumes may log a step again: its run keeps the first."""
        held = [(step, scalar_metrics(metrics)) for step, metrics in self._pending]
        self._pending, self._pending_count = [], 0
        if held:
            run = self.open_run()
            run.log_steps((step, self._not_logged(run, step, metrics)) for step, metrics in held)

    def _not_logged(self, run: MlflowRun, step: int, metrics: Mapping[str, float]) -> dict[str, float]:
        return {key: value for key, value in metrics.items() if step > self._logged_through(run, key)}

    def _logged_through(self, run: MlflowRun, key: str) -> float:
        """The last step of `key` the run had before this attempt (none for a first attempt)."""
        if not self.resuming:
            return float("-inf")
        if key not in self._history_ends:
            history = run.client.get_metric_history(run.run_id, key)
            self._history_ends[key] = max((metric.step for metric in history), default=float("-inf"))
        return self._history_ends[key]

    def report(self, step: int, metrics: Mapping[str, float], objective: str | None = None, last: bool = False) -> bool:
        """In a sweep, report `objective` (the one metric, when there is one) to its study, then log `metrics` at
        `step`. True when the sweep's pruner stops the trial: the caller stops (returning, or raising
        `TrialPruned`). `last`: the training's last step, which no pruner stops (the trial has done its work and
        completes with it). A resumed trial may report a step again: what its run and study already have is
        kept."""
        if self.rank == 0:
            metrics = scalar_metrics(metrics)
            link = self._study_link()
            name = objective_name(metrics, objective, needed=link is not None)
            self.last_step = step = next_step(self.last_step, whole_step(step))
            if last and self.pruned and self.facts.pruned_note:  # told to stop, it trained to the end: it completes
                self.pruned = None
                Path(self.facts.pruned_note).unlink(missing_ok=True)
            if link is not None and name is not None and not self.pruned:
                value = metrics[name]
                if (stop := link(step, value, last, name)) and not last:  # the study has the value either way
                    self.pruned = f"{stop} at step {step}: {name} {value:.4g}"
                    if self.facts.pruned_note:
                        Path(self.facts.pruned_note).write_text(self.pruned)
            # logged once the study has taken the step: an attempt whose trial its sweep has closed (the link
            # raises `TrialClosed`) writes nothing that the attempt which goes on would contradict
            self.flush()
            self.open_run()(step, metrics)
        return self._shared(self.pruned) is not None

    def end(self, error: BaseException | None = None) -> None:
        """Log what `log` holds and record `error` (a failure, not a stop: not `TrialPruned`, a requeue, a trial
        the sweep has closed or a tracking server that gave up) on the run; a run of the code's own then ends:
        FINISHED, or FAILED (KILLED on Ctrl-C). A sweep's trial leaves its run to the sweep, which ends it as the
        trial ended."""
        if (self.run is None and not self._pending) or self._ended or self.rank != 0:
            return
        self._ended = True
        if isinstance(error, TrialClosed):  # its sweep ended the trial: the attempt that goes on logs these steps
            self._pending, self._pending_count = [], 0
        self.flush()
        if self.run is None:
            return
        if error is not None and not (isinstance(error, TrialPruned | TrialClosed) or self.requeued or gave_up(error)):
            self.run.fail(error, end=self.facts.ends_run)
        elif self.facts.ends_run:
            self.run.finish()

    def _end_at_exit(self, earlier: BaseException | None) -> None:
        """A run of the code's own ends with the process: failed by an exception no code caught (the one the
        interpreter printed, not an `earlier` one of an interactive session), else finished."""
        last = getattr(sys, "last_value", None)
        self.end(last if last is not earlier else None)

    @property
    def ended(self) -> bool:
        return self._ended

    def __enter__(self) -> "Trial":
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.end(error)

    def _study_link(self) -> StudyLink | None:
        if self._link is None and self.facts.link:
            module, name = self.facts.link.split(":")
            self._link = getattr(importlib.import_module(module), name)(self.facts.link_facts)
        return self._link

    def _shared(self, reason: str | None) -> str | None:
        """Rank 0's reason to stop, on every rank of the trial's process group."""
        group = _process_group()
        if group is None or group.get_world_size() == 1:
            return reason
        box = [reason]
        group.broadcast_object_list(box, src=0)
        self.pruned = box[0]
        return self.pruned


def _process_group() -> Any:
    """`torch.distributed` when a default process group is up. Code that never imported torch has none, so
    asking costs it no import of torch (a second or more)."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def _job_name() -> str:
    from hydra.core.hydra_config import HydraConfig

    return str(HydraConfig.get().job.name) if HydraConfig.initialized() else DEFAULT_EXPERIMENT


def _job_output_dir() -> str | None:
    """The running Hydra job's output folder; None outside a job (Hydra's config composed alone has none)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    hydra: Any = HydraConfig.get() if HydraConfig.initialized() else None  # a DictConfig, typed as its dataclass
    found = OmegaConf.select(hydra, "runtime.output_dir", throw_on_missing=False) if hydra is not None else None
    return str(found) if found is not None else None


_current: Trial | None = None


def current_trial() -> Trial:
    """The trial this code runs as: the one a sweep handed to this process (or to the process that started it),
    else a run of its own; the same object on every call until it has ended (a second training in one process,
    as in a notebook, is a run of its own too) or its Hydra job has (the next job of a plain multirun that runs
    its jobs in this process is a trial of its own: the job before's run ends)."""
    global _current
    if _current is not None and _current.facts.job is not None and _current.facts.job != _job_output_dir():
        _current.end()
        _current = None
    if _current is None or _current.ended:
        handed = os.environ.get(TRIAL_VARIABLE)
        _current = Trial(TrialFacts.from_json(handed)) if handed else Trial(_own_facts())
    return _current


def _own_facts() -> TrialFacts:
    """A trial of the code's own: in a Hydra job, the job's, with the job's overrides as its run's params (the
    job's number names the run in a multirun, as the multirun's table numbers it)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    job = _job_output_dir()
    if job is None:
        return TrialFacts()
    hydra = HydraConfig.get()
    return job_facts(hydra.job.num if hydra.mode == RunMode.MULTIRUN else None, hydra.overrides.task, job=job)


@contextmanager
def handing_over(trial: Trial | None) -> Iterator[None]:
    """Make `trial` the current one while a task runs, in this process and in those it starts."""
    global _current
    saved = os.environ.get(TRIAL_VARIABLE)
    _current = trial
    if trial is not None:
        os.environ[TRIAL_VARIABLE] = trial.facts.to_json()
    try:
        yield
    finally:
        _current = None
        if saved is None:
            os.environ.pop(TRIAL_VARIABLE, None)
        else:
            os.environ[TRIAL_VARIABLE] = saved
