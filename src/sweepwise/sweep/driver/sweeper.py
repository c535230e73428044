"""The `optuna` sweeper's work, by stage: plan (validate everything), start (`sweep_start`: stores, preflight, study,
parent run), run (`orchestrator`) and report (`sweep_report`); every error the user can fix ends it in one line."""

import atexit
import gc
from dataclasses import replace
from typing import Any, cast

import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.types import HydraContext, TaskFunction
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig, OmegaConf

from sweepwise.errors import SweepwiseError
from sweepwise.internals.multiprocessing_internals import stop_fork_server
from sweepwise.recipe.report import PreflightFailed
from sweepwise.spec.run import task_spec
from sweepwise.sweep.driver.orchestrator import INTERRUPTED, Orchestrator, SweepStopped
from sweepwise.sweep.driver.plan import SweepPlan, make_plan, sweeper_config
from sweepwise.sweep.driver.report_warmup import warm_up_report
from sweepwise.sweep.driver.sweep_report import SweepReport
from sweepwise.sweep.driver.sweep_start import start_sweep
from sweepwise.sweep.driver.termination import Terminated, terminated_as_interrupted
from sweepwise.sweep.launch.early_start import worker_preload
from sweepwise.sweep.launch.executor import Executor
from sweepwise.sweep.launch.executor_choice import (
    Settings,
    describe,
    launcher_notes,
    launcher_settings,
    make_executor,
    placement,
    trial_processes,
)
from sweepwise.sweep.launch.gpu_placement import Placement
from sweepwise.sweep.trial.trial_runner import TrialRunner
from sweepwise.tracking.retry import RESUME_HINT, apply_retry_policy, gave_up, unreachable_error


class Sweep:
    """What the `optuna` sweeper plugin does: plan and validate, then run the study's trials and report."""

    def __init__(self, **raw: Any) -> None:
        self.raw = raw
        self.trials_started = False  # whether an interruption can have stopped a trial

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config
        if not HydraConfig.initialized():  # Hydra sets it for each job alone; the sweep's own process resolves
            HydraConfig.instance().set_config(config)  # `${hydra:runtime.cwd}` too (its preflight, its checks)

    def sweep(self, arguments: list[str]) -> None:
        """Run the sweep; every error the user can fix ends it with one line and a non-zero exit. However it ends,
        the workers' fork server (started early, maybe still importing) goes with it."""
        try:
            self._sweep(arguments)
        finally:
            stop_fork_server()

    def _sweep(self, arguments: list[str]) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        # at exit, Python's teardown runs full collections over every object MLflow, Hydra and Optuna left: 1-2 s
        # of a small sweep. Frozen, they are skipped; the objects are freed with the process
        atexit.register(gc.freeze)
        try:
            with terminated_as_interrupted():
                self._plan_and_run(arguments)
        except SweepwiseError as error:
            raise SystemExit(f"error: {error}") from None
        except MlflowException as error:
            if not gave_up(error):
                raise
            raise SystemExit(f"error: {unreachable_error(error)}; {RESUME_HINT}") from None
        except KeyboardInterrupt as stop:
            how = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
            if self.trials_started:
                print(f"sweep {how}: any trial it was running is FAIL (interrupted); the same command resumes it")
            else:
                print(f"sweep {how} before its first trial started: the same command starts it")
            raise SystemExit(143 if isinstance(stop, Terminated) else 130) from None

    def _plan_and_run(self, arguments: list[str]) -> None:
        """Plan and validate, then run the study's trials and report."""
        task = task_spec(self.config)
        apply_retry_policy(task.retry)
        # parsed (and resolved) here, where a bad value ends the sweep with one line
        plan = make_plan(sweeper_config(self.raw), arguments, self.hydra_context, self.config, task)
        launcher_config = OmegaConf.to_container(self.config.hydra.launcher, resolve=True)
        launcher = launcher_settings(cast(dict[str, Any], launcher_config), trial_processes(self.config))
        slots = placement(launcher, "hydra.sweeper.n_jobs", plan.conf.n_jobs)
        plan = replace(plan, settings=replace(plan.settings, n_jobs=slots.size))
        sweeper = OmegaConf.to_container(self.config.hydra.sweeper)
        report = SweepReport(task.ensemble_top_k, task.log_model, sweeper)
        choice = OmegaConf.select(self.config, "hydra.runtime.choices.hydra/launcher", default=None)
        lines = [describe(choice, launcher), *launcher_notes(launcher, True, cast(dict[str, Any], launcher_config))]
        self._run(plan, launcher, slots, task.preflight, report, lines)

    def _executor(self, plan: SweepPlan, launcher: Settings, slots: Placement) -> Executor:
        """Worker processes or SLURM jobs for the trials; the orchestrator shuts them down however it ends."""
        runner = TrialRunner(self.hydra_context, self.task_function, self.config)
        return make_executor(launcher, runner, slots, plan.sweep_dir / "slurm", worker_preload(self.config))

    def _run(
        self,
        plan: SweepPlan,
        launcher: Settings,
        slots: Placement,
        preflight: str,
        report: SweepReport,
        launcher_lines: list[str],
    ) -> None:
        """Start the sweep, run its trials, and write its report however the run ends."""
        started = start_sweep(plan, self.config, self.hydra_context, slots, preflight, launcher_lines)
        plan = started.plan  # a continued study's folder
        status = "FINISHED"
        orchestrator: Orchestrator | None = None
        try:  # from here on, however the sweep ends (Ctrl-C as its workers start too), its report ends its run
            orchestrator = Orchestrator(
                started.study,
                plan.space,
                started.settings,
                self._executor(plan, launcher, slots),
                started.tracker,
                started.progress,
                started.trial_context,
                plan.custom_search_space,
                self.config,
                log_file=started.log_file,
            )
            if started.preflight is not None:
                started.preflight.record(started.study, started.tracker, fail=preflight == "fail")
            self.trials_started = True
            warm_up_report(started.settings.n_trials, report.log_model)
            orchestrator.run()
        except (SweepStopped, PreflightFailed):
            status = "FAILED"
            raise
        except BaseException:
            status = "KILLED"
            raise
        finally:
            try:
                # the worker processes start with the executor: a sweep the preflight (or its config) stops before
                # the orchestrator runs must still end them, or the process waits on them forever
                if orchestrator is not None:
                    orchestrator.executor.shutdown()
                started.progress.close()
                ran = orchestrator.counts if orchestrator is not None else {}
                counts = {state: ran.get(state, 0) for state in ("COMPLETE", "PRUNED", "FAIL", INTERRUPTED)}
                report.write(started.study, plan, started.tracker, counts, status)
            finally:
                if started.claim is not None:
                    started.claim.release()
