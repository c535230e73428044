"""One job of the task (a sweep's trial, or a plain multirun's job), run inside its worker process or SLURM job the
way Hydra's own launchers run it."""

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from sweepwise.internals.hydra_internals import job_output_dir, raised_by, run_owned_job
from sweepwise.internals.submitit_internals import requeue_exit_code
from sweepwise.sweep.outcome import INTERRUPTED, PAUSED, JobRecord, TrialOutcome, TrialStatus, objective_outcome
from sweepwise.sweep.trial.script_task import ScriptTask, portable
from sweepwise.sweep.trial.sweep_session import pruned_reason, sweep_trial
from sweepwise.sweep.trial.trial_compose import SweepComposer
from sweepwise.sweep.trial.trial_context import TrialContext
from sweepwise.tracking.mlflow_run import end_fluent_runs
from sweepwise.tracking.retry import gave_up, unreachable_error
from sweepwise.trial_api import Trial, TrialPruned, handing_over
from sweepwise.trial_facts import CHECKPOINTS, TrialClosed, TrialFacts, job_facts


@dataclass(frozen=True)
class TrialJob:
    """A job to run: its overrides, its number in the sweep, and (in a sweep) its trial."""

    overrides: tuple[str, ...]
    job_num: int
    context: TrialContext | None = None
    # where the job's stdout and stderr go (None: they stay on the worker's terminal)
    log_file: str | None = None
    # a plain multirun's MLflow store and parent run, which the job's training run goes under
    tracking_uri: str | None = None
    parent_run_id: str | None = None


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


class TrialRunner:
    """Callable shipped to worker processes and SLURM jobs: composes a job's config, runs the task function on it
    (handing it its trial), and decides the trial's outcome here, where the task ran."""

    def __init__(self, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config
        self.singletons = Singleton.get_state()
        self._composer: SweepComposer | None = None
        self.trial: Trial | None = None  # the trial of the job running now, if any

    def __getstate__(self) -> dict[str, Any]:
        # each process keeps its own composer and trial; the task function goes by where it is defined
        return {**self.__dict__, "_composer": None, "trial": None, "task_function": portable(self.task_function)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        task = state["task_function"]
        self.__dict__.update(state, task_function=task.load() if isinstance(task, ScriptTask) else task)

    def __call__(self, job: TrialJob) -> TrialOutcome:
        """Compose the job's config and run it as one job of a multirun (Hydra's `run_job`, as its launchers do)."""
        return self._outcome(
            job, self._compose, lambda config: run_owned_job(self.hydra_context, self.task_function, config)
        )

    def run_in_job(self, job: TrialJob, config: DictConfig) -> TrialOutcome:
        """Run the task on `config`, composed by the job that calls this (another plugin's launcher runs Hydra's
        `run_job` with this as its task function)."""
        output_dir = str(HydraConfig.get().runtime.output_dir)  # the task's config has no `hydra` node to read it
        return self._outcome(job, lambda _: config, lambda composed: _called(self.task_function, composed), output_dir)

    def _outcome(
        self,
        job: TrialJob,
        compose: Callable[[TrialJob], DictConfig],
        run: Callable[[DictConfig], JobReturn],
        output_dir: str | None = None,
    ) -> TrialOutcome:
        started = time.time()
        log_file = Path(job.log_file) if job.log_file else None
        self.trial = None
        returned: JobReturn | None = None
        try:
            config = compose(job)
            self.trial = _trial_for(job, Path(output_dir or job_output_dir(config)))
            with output_to(log_file), handing_over(self.trial):
                returned = run(config)
                raised = raised_by(returned)
                self.trial.end(raised)  # logs what the task left unlogged; ends a run of its own
                end_fluent_runs()  # and the runs the task left active through MLflow's own API
                if isinstance(raised, (optuna.TrialPruned, TrialPruned)):
                    raise raised  # a pruned trial, without Hydra's note that its job failed
                value = returned.return_value  # raises what the task raised (Hydra notes it on stderr)
            outcome = self._judge(value, job.context)
        except (optuna.TrialPruned, TrialPruned) as pruned:
            reason = pruned_reason(self.trial) if self.trial is not None else None
            paused = reason is not None and reason.startswith(PAUSED)  # the schedule's, whatever the code says
            outcome = TrialOutcome(TrialStatus.PRUNED, reason=(not paused and str(pruned)) or reason or "pruned")
        except TrialClosed as closed:  # nothing failed: the sweep that ended the trial goes on with its work
            outcome = TrialOutcome(TrialStatus.FAIL, reason=f"{INTERRUPTED}{closed}")
            _append(log_file, f"this attempt stopped: {closed}\n")
        except BaseException as error:  # the task's failure is the outcome, whatever it is
            if self.trial is not None and self.trial.requeued:
                # the job goes back to the queue and runs this trial again. The requeue's exit may interrupt
                # anything, even a storage write that then fails on its own: whatever comes up is that exit.
                raise SystemExit(requeue_exit_code()) from error
            reason = pruned_reason(self.trial) if self.trial is not None else None
            if reason and not isinstance(error, KeyboardInterrupt):  # e.g. the pruned rank's exception, re-raised
                outcome = TrialOutcome(TrialStatus.PRUNED, reason=reason)
            else:
                outcome = replace(_failure(error), traceback="".join(traceback.format_exception(error)))
            _append(log_file, "".join(traceback.format_exception(error)))
        run_id = self.trial.facts.run_id if self.trial else None
        record = _record_of(returned) if job.context is None and returned is not None else None
        return replace(outcome, started=started, ended=time.time(), run_id=run_id, job=record)

    def _judge(self, value: Any, context: TrialContext | None) -> TrialOutcome:
        """A plain multirun's job completes with whatever the task returned; a sweep's trial needs its objective
        values, unless its pruner stopped it."""
        if context is None:
            return TrialOutcome(TrialStatus.COMPLETE, return_value=value)
        pruned = pruned_reason(self.trial) if self.trial is not None else None
        if pruned:
            return TrialOutcome(TrialStatus.PRUNED, reason=pruned, return_value=value)
        return objective_outcome(value, len(context.directions))

    def _compose(self, job: TrialJob) -> DictConfig:
        if self._composer is None:
            Singleton.set_state(self.singletons)
            setup_globals()
            self._composer = SweepComposer(self.hydra_context.config_loader, self.config)
        sweep_config = self._composer.compose(job.overrides)
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = job.job_num
            sweep_config.hydra.job.num = job.job_num
        return sweep_config


def _called(task_function: TaskFunction, config: DictConfig) -> JobReturn:
    """The task's return, or what it raised, as Hydra's `run_job` records either."""
    returned = JobReturn(cfg=config)
    try:
        returned.return_value, returned.status = task_function(config), JobStatus.COMPLETED
    except Exception as error:  # as `run_job` catches it: the job's failure, recorded, not raised
        returned.return_value, returned.status = error, JobStatus.FAILED
    return returned


def _trial_for(job: TrialJob, output_dir: Path) -> Trial:
    """A sweep's trial is handed its trial, with its MLflow run; a job of a grouped plain multirun, a trial whose
    run goes under the multirun's parent run; any other job, a trial of its own, whose run (if the task opens one)
    is named after the job, has the job's overrides as params and ends with the job."""
    output_dir = output_dir.absolute()
    folder = output_dir / CHECKPOINTS
    if job.context is not None:
        return sweep_trial(job.context, output_dir)
    if job.parent_run_id is not None:
        facts = TrialFacts(
            tracking_uri=job.tracking_uri,
            parent_run_id=job.parent_run_id,
            run_name=f"job-{job.job_num}",
            folder=str(folder),
        )
        return Trial(facts)
    return Trial(job_facts(job.job_num, job.overrides, folder=str(folder)))  # as on Hydra's basic launcher


def _record_of(returned: JobReturn) -> JobRecord:
    """The job's record in plain containers: Hydra's config holds the plugins' config classes, which Hydra's plugin
    scan imports anew, so they cannot be pickled back to the launcher as they are."""
    hydra_cfg = OmegaConf.create(OmegaConf.to_container(returned.hydra_cfg)) if returned.hydra_cfg else None
    return JobRecord(returned.cfg, hydra_cfg, returned.working_dir, returned.task_name)


def _failure(error: BaseException) -> TrialOutcome:
    """FAIL with the error as its reason; TRACKING_LOST when the MLflow server stopped answering (e.g. the trial's
    run could not be created), whether the task let MLflow's error through or ended with its own one-line exit."""
    lost = next((cause for cause in _causes(error) if gave_up(cause)), None)
    if lost is not None:
        return TrialOutcome(TrialStatus.TRACKING_LOST, reason=f"error: {unreachable_error(lost)}")
    reason = _exit_reason(error) if isinstance(error, SystemExit) else f"{type(error).__name__}: {error}"
    return TrialOutcome(TrialStatus.FAIL, reason=reason)


def _exit_reason(error: SystemExit) -> str:
    """`sys.exit("error: ...")` says why the task stopped; `sys.exit(3)` says only how."""
    if error.code is None or isinstance(error.code, int):
        return f"the task exited with code {error.code or 0}"
    return str(error.code)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and the exceptions it was raised from or while handling (kept even under `raise ... from None`)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _append(log_file: Path | None, text: str) -> None:
    """Add `text` to the trial's log (a failure's traceback, why an attempt stopped)."""
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "a") as log:
            log.write(text)
