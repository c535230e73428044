"""The optuna sweeper: plan (validate), then study, MLflow parent run, trial processes and the orchestrator."""

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import optuna
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import CategoricalDistribution
from rich.console import Console

import sweepwise
from hydra_plugins.sweepwise_plugins.config import SlurmLauncherConf
from sweepwise.errors import ConfigError, SweepwiseError, first_line, hide_password
from sweepwise.recipe.report import PreflightFailed
from sweepwise.spec.run import task_spec
from sweepwise.study.records import (
    DEFINITION_ATTR,
    MODEL_ERROR_TAG,
    MODEL_TRIAL_TAG,
    MODEL_URI_TAG,
    SWEEP_DIR_ATTR,
)
from sweepwise.study.storage import DATABASE_SCHEMES, check_storage, open_storage
from sweepwise.sweep.definition import check_definition, definition_of
from sweepwise.sweep.launch.choose import launcher_settings, make_executor, placement, trial_processes
from sweepwise.sweep.launch.executor import Executor
from sweepwise.sweep.launch.gpus import LocalSettings, Placement, check_packing, gpu_memory_mb
from sweepwise.sweep.orchestrator import INTERRUPTED, Orchestrator, SweepStopped
from sweepwise.sweep.param_grammar import grid_of, trial_overrides
from sweepwise.sweep.plan import SWEEPER_FIELDS, SweepPlan, make_plan, sweeper_config
from sweepwise.sweep.plots import save_study_plots
from sweepwise.sweep.progress import SweepProgress, top_trials_table
from sweepwise.sweep.results import write_results
from sweepwise.sweep.samplers import build_sampler, is_grid
from sweepwise.sweep.tracker import SweepTracker
from sweepwise.sweep.trial.context import TrialContext
from sweepwise.sweep.trial.hydra_job import task_part
from sweepwise.sweep.trial.runner import TrialRunner
from sweepwise.sweep.trial_runs import mlflow_key
from sweepwise.tracking.mlflow_run import check_database_store
from sweepwise.tracking.provenance import provenance_tags
from sweepwise.tracking.retry import RESUME_HINT, apply_retry_policy, gave_up, unreachable_error
from sweepwise.tracking.secrets import redact

if TYPE_CHECKING:
    from sweepwise.sweep.preflight import SweepPreflight


class Sweep:
    """What the `optuna` sweeper plugin does: plan and validate, then run the study's trials and report."""

    def __init__(self, **raw: Any) -> None:
        self.raw = raw
        self.ensemble_k = 0
        self.log_model = False

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config

    def sweep(self, arguments: list[str]) -> None:
        """Run the sweep; every error the user can fix ends it with one line and a non-zero exit."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            task = task_spec(self.config)
            apply_retry_policy(task.retry)
            # parsed (and resolved) here, where a bad value ends the sweep with one line
            plan = make_plan(sweeper_config(self.raw), arguments, self.hydra_context, self.config)
            launcher_config = OmegaConf.to_container(self.config.hydra.launcher, resolve=True)
            launcher = launcher_settings(cast(dict[str, Any], launcher_config), trial_processes(self.config))
            slots = placement(launcher, "hydra.sweeper.n_jobs", plan.conf.n_jobs)
            plan = replace(plan, settings=replace(plan.settings, n_jobs=slots.size))
            self.ensemble_k, self.log_model = task.ensemble_top_k, task.log_model
            self._run(plan, launcher, slots, task.preflight)
        except SweepwiseError as error:
            raise SystemExit(f"error: {error}") from None
        except MlflowException as error:
            if not gave_up(error):
                raise
            raise SystemExit(f"error: {unreachable_error(error)}; {RESUME_HINT}") from None
        except KeyboardInterrupt:
            print("sweep interrupted: its running trials are FAIL (interrupted); the same command resumes it")
            raise SystemExit(130) from None

    def _executor(self, plan: SweepPlan, launcher: SlurmLauncherConf | LocalSettings, slots: Placement) -> Executor:
        """Worker processes or SLURM jobs for the trials; the orchestrator shuts them down however it ends."""
        runner = TrialRunner(self.hydra_context, self.task_function, self.config)
        return make_executor(launcher, runner, slots, plan.sweep_dir / "slurm")

    def _run(
        self, plan: SweepPlan, launcher: SlurmLauncherConf | LocalSettings, slots: Placement, preflight: str
    ) -> None:
        journal_folder = None if plan.storage.startswith(DATABASE_SCHEMES) else Path(plan.storage).parent
        new_folder = journal_folder is not None and not journal_folder.exists()
        check_storage(plan.storage)  # the study's storage can hold it, checked before any store is written to
        check_database_store(plan.tracking_uri)
        objective = OmegaConf.select(self.config, "objective.metric", default=None)
        definition = definition_of(plan.space, plan.sampler, plan.directions, objective, plan.conf.definition_ignores)
        existing = _existing_study(plan)
        record = existing is None or check_definition(existing, definition, plan.conf.on_change)
        # before the study and the parent run exist: a config error the checks meet leaves nothing written
        checked = self._preflight(plan, existing) if preflight != "off" else None
        if checked is not None and slots.trials_per_gpu > 1:
            check_packing(slots.trials_per_gpu, checked.cuda_peak_mb, gpu_memory_mb())
        tracker = SweepTracker(plan.tracking_uri, plan.experiment)  # the server answers before the study is made
        study = self._study(plan, existing)
        if record:
            study.set_user_attr(DEFINITION_ATTR, definition)
        if study.user_attrs.get(SWEEP_DIR_ATTR) != str(plan.sweep_dir.resolve()):
            study.set_user_attr(SWEEP_DIR_ATTR, str(plan.sweep_dir.resolve()))
        parent = tracker.start_parent(study, self._settings_params(plan), provenance_tags(self._overrides()))
        settings = plan.settings
        if is_grid(plan.sampler):
            grid_size = math.prod(len(values) for values in grid_of(plan.space).values())
            settings = type(settings)(**{**vars(settings), "n_trials": min(settings.n_trials, grid_size)})
        progress = SweepProgress(settings.n_trials)
        progress.event(
            f"sweepwise {sweepwise.__version__} optuna sweeper: study {study.study_name} ({hide_password(plan.storage)}"
            f"{'; its folder was created' if new_folder else ''}), "
            f"MLflow experiment {plan.experiment} run {parent} ({hide_password(plan.tracking_uri)})"
        )
        if slots.describe():
            progress.event(slots.describe())
        if not plan.space.distributions and plan.custom_search_space is None:
            progress.event(f"no parameters to search: every trial runs the same config ({settings.n_trials} trials)")

        def context(trial: optuna.Trial, params: dict[str, Any], run_id: str | None, attempt: int) -> TrialContext:
            return TrialContext(
                study_name=study.study_name,
                storage=plan.storage,
                trial_id=trial._trial_id,
                trial_number=trial.number,
                directions=plan.directions,
                pruner=plan.pruner,
                tracking_uri=plan.tracking_uri,
                experiment_id=tracker.experiment_id,
                parent_run_id=parent,
                params=params,
                run_id=run_id,
                attempt=attempt,
            )

        orchestrator = Orchestrator(
            study,
            plan.space,
            settings,
            self._executor(plan, launcher, slots),
            tracker,
            progress,
            context,
            plan.custom_search_space,
            self.config,
            log_file=lambda number: str(plan.sweep_dir / str(number) / "trial.log"),
        )
        status = "FINISHED"
        try:
            if checked is not None:
                checked.record(study, tracker, fail=preflight == "fail")
            orchestrator.run()
        except (SweepStopped, PreflightFailed):
            status = "FAILED"
            raise
        except BaseException:
            status = "KILLED"
            raise
        finally:
            # the worker processes start with the executor: a sweep the preflight (or its config) stops before
            # the orchestrator runs must still end them, or the process waits on them forever
            orchestrator.executor.shutdown()
            progress.close()
            self._report(study, plan, tracker, orchestrator, status)

    def _preflight(self, plan: SweepPlan, existing: optuna.Study | None) -> "SweepPreflight":
        """The recipe's checks on the sweep's base config and on each model family the search space draws, unless
        they passed on these configs and this code before."""
        from sweepwise.sweep.preflight import BASE, SweepPreflight  # imports torch: only when asked for

        families = self._families(plan)
        first = {group: options[0] for group, options in families.items()}
        configs = {BASE: self._compose(plan, first)}
        for group, options in families.items():
            for option in options[1:]:
                configs[f"{group}={option}"] = self._compose(plan, {**first, group: option})
        folder = plan.sweep_dir / "preflight"
        for name, config in configs.items():
            OmegaConf.update(config, "output_dir", str(folder / name if name != BASE else folder))
        settings = plan.settings
        return SweepPreflight.run(configs, folder, existing, settings.n_trials, settings.n_jobs)

    def _families(self, plan: SweepPlan) -> dict[str, list[Any]]:
        """The options of each config group the search space chooses from (`model=choice(mlp, convnet)`)."""
        groups = self.config.hydra.runtime.choices
        return {
            name: list(distribution.choices)
            for name, distribution in plan.space.distributions.items()
            if isinstance(distribution, CategoricalDistribution) and name in groups
        }

    def _compose(self, plan: SweepPlan, options: dict[str, Any]) -> DictConfig:
        """The sweep's config with these config-group options (the base config itself when there are none)."""
        if not options:
            return task_part(self.config)
        overrides = trial_overrides(options, plan.space.fixed)
        return task_part(self.hydra_context.config_loader.load_sweep_config(self.config, overrides))

    def _ensemble(self, study: optuna.Study, plan: SweepPlan, tracker: SweepTracker) -> None:
        """The best `recipe.ensemble_top_k` trials alone and averaged, on the parent run."""
        from sweepwise.recipe.ensemble import evaluate_ensemble, log_to_parent, report  # imports torch

        rows, gain, gain_se = evaluate_ensemble(study, plan.sweep_dir, self.ensemble_k)
        files = report(rows, gain, gain_se, plan.sweep_dir / "ensemble")
        tracker.writer.call(log_to_parent, tracker.client, tracker.parent_run_id, rows, gain, gain_se, files)

    def _log_best_model(self, study: optuna.Study, plan: SweepPlan, tracker: SweepTracker) -> None:
        """The best trial's model on the parent run, once: a re-run of a finished sweep whose best trial has not
        changed points at the model already there. The sweep's results stand without it, so a model that cannot
        be exported (or a missing checkpoint) is a warning line, not a failed sweep."""
        from sweepwise.recipe.best_model import log_best_model  # imports torch

        logged = tracker.parent_data().tags  # also flushes: then the store has one writer, this thread
        if logged.get(MODEL_TRIAL_TAG) == str(study.best_trial.number) and MODEL_URI_TAG in logged:
            print(f"best model (trial {study.best_trial.number}): {logged[MODEL_URI_TAG]} on the parent run, as before")
            return
        try:
            best = log_best_model(study, plan.sweep_dir, plan.tracking_uri, tracker.parent_run_id)
        except MlflowException as error:
            if gave_up(error):
                raise
            self._model_not_logged(tracker, error)
        except Exception as error:  # torch.export refusing a user's model, a trial folder gone, ...
            self._model_not_logged(tracker, error)
        else:
            tracker.log_parent({}, {MODEL_TRIAL_TAG: str(best.trial), MODEL_URI_TAG: best.logged.uri}, step=0)
            size = best.logged.size_bytes / 1e6
            print(
                f"best model (trial {best.trial}): {best.logged.uri} on the parent run, {size:.1f} MB, logged in "
                f"{best.seconds:.1f} s; register it from the run's Artifacts tab in the MLflow UI",
            )

    @staticmethod
    def _model_not_logged(tracker: SweepTracker, error: Exception) -> None:
        reason = f"{type(error).__name__}: {first_line(error)}"
        tracker.log_parent({}, {MODEL_ERROR_TAG: reason}, step=0)
        print(f"warning: the best trial's model was not logged as an MLflow model ({reason})")

    def _study(self, plan: SweepPlan, existing: optuna.Study | None) -> optuna.Study:
        """The existing study (already loaded: creating it again with `load_if_exists` would append a creation
        record to a journal on every re-run) or a new one, given the configured sampler, seeded past the trials
        it already has."""
        study = existing
        if study is None:
            try:
                study = optuna.create_study(
                    study_name=plan.settings.study_name,
                    storage=open_storage(plan.storage),
                    directions=list(plan.directions),
                    load_if_exists=True,  # another sweep may have created it meanwhile
                )
            except ValueError as error:
                raise ConfigError("hydra.sweeper.direction", list(plan.directions), str(error)) from error
        kwargs: dict[str, Any] = {}
        if plan.sampler.get("seed") is not None:
            kwargs["seed"] = plan.sampler["seed"] + len(study.trials)
        if is_grid(plan.sampler):
            kwargs["search_space"] = grid_of(plan.space)
        study.sampler = build_sampler(plan.sampler, **kwargs)
        study.pruner = instantiate(plan.pruner)
        return study

    def _settings_params(self, plan: SweepPlan) -> dict[str, Any]:
        sweeper = {name: getattr(plan.conf, name) for name in SWEEPER_FIELDS if name != "params"}
        space = {name: repr(distribution) for name, distribution in plan.space.distributions.items()}
        fixed = {mlflow_key(key): value for key, value in plan.space.fixed.items()}
        return {"sweeper": sweeper, "search_space": space, "fixed": fixed}

    def _overrides(self) -> Sequence[str]:
        """The command line's overrides as typed (an interpolation in one is text here, resolved in the trials)."""
        overrides = OmegaConf.select(self.config, "hydra.overrides.task", default=None)
        return list(cast(list[str], OmegaConf.to_container(overrides, resolve=False))) if overrides is not None else []

    def _report(
        self, study: optuna.Study, plan: SweepPlan, tracker: SweepTracker, orchestrator: Orchestrator, status: str
    ) -> None:
        """Results file, plots, counts and best trial on the parent run; the top trials on the terminal."""
        counts = {state: orchestrator.counts[state] for state in ("COMPLETE", "PRUNED", "FAIL", INTERRUPTED)}
        metrics: dict[str, float] = {f"trials/{state.lower()}": count for state, count in counts.items()}
        tags: dict[str, str] = {"sweepwise.study": study.study_name, "sweepwise.storage": hide_password(plan.storage)}
        results = write_results(study, plan.sweep_dir)
        if results is not None:
            tracker.log_parent_artifact(results)
            if len(plan.directions) == 1:
                best = study.best_trial
                assert best.value is not None  # the best trial of one objective is COMPLETE with a value
                metrics["best_value"] = best.value
                metrics["objective"] = best.value  # the trials' objective column, so the parent's row shows it
                tags.update({f"best.{mlflow_key(name)}": str(value) for name, value in best.params.items()})
                tags["best.trial"] = str(best.number)
        tracker.log_parent_changes(metrics, tags, step=sum(counts.values()))
        for path in save_study_plots(study, plan.sweep_dir / "plots"):
            tracker.log_parent_artifact(path, "plots")
        finished_with_best = status == "FINISHED" and len(plan.directions) == 1 and results is not None
        if self.ensemble_k and finished_with_best:
            self._ensemble(study, plan, tracker)
        if self.log_model and finished_with_best:
            self._log_best_model(study, plan, tracker)
        tracker.log_parent_json(redact(OmegaConf.to_container(self.config.hydra.sweeper)), "sweep_config.json")
        tracker.end_parent(status)
        console = Console(soft_wrap=True)
        if results is not None:
            console.print(top_trials_table(study))
            if len(plan.directions) == 1:
                best = study.best_trial
                console.print(f"best trial {best.number}: value {best.value:.4g} with {best.params}", markup=False)
            console.print(f"results: {results}", markup=False)
        console.print(ui_hint(plan.tracking_uri, plan.experiment), markup=False)


def ui_hint(uri: str, experiment: str) -> str:
    """How to compare the trials in the MLflow UI: `make ui` in sweepwise's folder serves its `./mlflow.db`, any
    other store (a sweep run elsewhere, a database) is named with `DB=`, and a tracking server serves its own UI."""
    if uri.startswith(("http://", "https://")):
        return f"compare the trials: open {uri} (experiment {experiment})"
    here = Path.cwd()
    if uri == f"sqlite:///{here / 'mlflow.db'}" and (here / "Makefile").is_file():
        return f"compare the trials: make ui  (experiment {experiment})"
    return f"compare the trials: make ui DB={hide_password(uri)}  (in sweepwise's folder; experiment {experiment})"


def _existing_study(plan: SweepPlan) -> optuna.Study | None:
    """The study a re-run would continue, read without writing anything; None for a new one."""
    if not plan.storage.startswith(DATABASE_SCHEMES) and not Path(plan.storage).is_file():
        return None  # opening a journal creates it
    try:
        return optuna.load_study(
            study_name=plan.settings.study_name,
            storage=open_storage(plan.storage),
            sampler=optuna.samplers.RandomSampler(),
        )
    except KeyError:
        return None
