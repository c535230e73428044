"""One Hydra job of the task, run inside a worker process the way Hydra's own launchers run it."""

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

from sweepwise.sweep.compose import SweepComposer
from sweepwise.sweep.context import TrialContext, is_requeued, set_current_trial
from sweepwise.sweep.job_run import run_owned_job
from sweepwise.sweep.tracking import open_child_run
from sweepwise.sweep.verdict import Verdict, objective_verdict
from sweepwise.tracking.retry import gave_up, unreachable_error


@dataclass(frozen=True)
class TrialJob:
    """A job to run: its overrides, its number in the sweep, and (in a sweep) its trial."""

    overrides: tuple[str, ...]
    job_num: int
    context: TrialContext | None = None
    # where the job's stdout and stderr go (None: they stay on the worker's terminal)
    log_file: str | None = None


@dataclass
class TrialOutcome:
    """How a job ended: `complete` (with the task's return value), `pruned` or `failed` (with a reason; the
    traceback goes to the job's log file)."""

    status: str
    value: Any = None
    reason: str = ""
    started: float = 0.0
    ended: float = 0.0
    run_id: str | None = None  # in a sweep: the trial's MLflow run

    def judge(self, n_objectives: int) -> Verdict:
        if self.status == "complete":
            return objective_verdict(self.value, n_objectives)
        return Verdict("PRUNED" if self.status == "pruned" else "FAIL", None, self.reason)


@contextlib.contextmanager
def output_to(path: Path | None) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so child processes too) to `path`."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


class JobRunner:
    """Callable shipped to workers: composes the job's config and runs the task function on it."""

    def __init__(self, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config
        self.singletons = Singleton.get_state()
        self._composer: SweepComposer | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_composer": None}  # each worker keeps its own cache

    def __call__(self, job: TrialJob) -> TrialOutcome:
        started = time.time()
        context = job.context
        log_file = Path(job.log_file) if job.log_file else None
        try:
            if context is not None:
                context = replace(context, run_id=open_child_run(context))
            set_current_trial(context)
            with output_to(log_file):
                value = self._run(job).return_value  # raises what the task raised (Hydra notes it on stderr)
            outcome = TrialOutcome("complete", value=value)
        except optuna.TrialPruned as pruned:
            outcome = TrialOutcome("pruned", reason=str(pruned) or "pruned")
        except BaseException as error:  # the task's failure is the outcome, whatever it is
            if is_requeued():
                raise  # the job goes back to the queue and runs this trial again
            reason = str(error) if isinstance(error, SystemExit) else f"{type(error).__name__}: {error}"
            if gave_up(error):  # e.g. the trial's run could not be created
                reason = f"error: {unreachable_error(error)}"
            outcome = TrialOutcome("failed", reason=reason)
            if log_file:
                log_file.parent.mkdir(parents=True, exist_ok=True)
                with open(log_file, "a") as log:
                    log.write("".join(traceback.format_exception(error)))
        finally:
            set_current_trial(None)
        outcome.started, outcome.ended = started, time.time()
        outcome.run_id = context.run_id if context else None
        return outcome

    def _run(self, job: TrialJob) -> JobReturn:
        if self._composer is None:
            Singleton.set_state(self.singletons)
            setup_globals()
            self._composer = SweepComposer(self.hydra_context.config_loader, self.config)
        sweep_config = self._composer.compose(job.overrides)
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = job.job_num
            sweep_config.hydra.job.num = job.job_num
        return run_owned_job(self.hydra_context, self.task_function, sweep_config)
