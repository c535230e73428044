"""One Hydra job of the task, run inside a worker process the way Hydra's own launchers run it."""

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

from sweepwise.sweep.context import TrialContext, set_current_trial


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
    """How a job ended: `complete` (with the task's return value), `pruned` or `failed` (with a reason)."""

    status: str
    value: Any = None
    reason: str = ""
    details: str = ""
    started: float = 0.0
    ended: float = 0.0
    pid: int = field(default_factory=os.getpid)


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

    def __call__(self, job: TrialJob) -> TrialOutcome:
        started = time.time()
        set_current_trial(job.context)
        try:
            with output_to(Path(job.log_file) if job.log_file else None):
                result = self._run(job)
            outcome = TrialOutcome("complete", value=result.return_value)
        except optuna.TrialPruned as pruned:
            outcome = TrialOutcome("pruned", reason=str(pruned) or "pruned")
        except BaseException as error:  # the task's failure is the outcome, whatever it is
            reason = str(error) if isinstance(error, SystemExit) else f"{type(error).__name__}: {error}"
            outcome = TrialOutcome("failed", reason=reason, details="".join(traceback.format_exception(error)))
        finally:
            set_current_trial(None)
        outcome.started, outcome.ended = started, time.time()
        return outcome

    def _run(self, job: TrialJob) -> JobReturn:
        Singleton.set_state(self.singletons)
        setup_globals()
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(job.overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = job.job_num
            sweep_config.hydra.job.num = job.job_num
        HydraConfig.instance().set_config(sweep_config)
        return run_job(
            hydra_context=self.hydra_context,
            task_function=self.task_function,
            config=sweep_config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
