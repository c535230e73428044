"""The end of a sweep, however it ended: the results file, the study's plots, the counts and best trial on the
parent run, the ensemble and best model when asked for, and the top trials and the way to the MLflow UI on the
terminal."""

import contextlib
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from mlflow.exceptions import MlflowException
from rich.console import Console

from sweepwise.errors import first_line, hide_password
from sweepwise.spec.sweep_schedule import Pbt, Schedule
from sweepwise.study.records import MODEL_ERROR_TAG, MODEL_TRIAL_TAG, MODEL_URI_TAG, RUN_ID_ATTR
from sweepwise.study.trials import first_of_its_work
from sweepwise.sweep.driver.plan import SweepPlan
from sweepwise.sweep.driver.progress import top_trials_table
from sweepwise.sweep.driver.results import write_results
from sweepwise.sweep.driver.rungs import is_paused
from sweepwise.sweep.driver.tracker import SweepTracker
from sweepwise.sweep.driver.trial_flights import results
from sweepwise.sweep.signals import deferred
from sweepwise.tracking.params import mlflow_name
from sweepwise.tracking.retry import gave_up
from sweepwise.tracking.secrets import redact
from sweepwise.tracking.trials_view import LOCAL_UI, view_link


@dataclass(frozen=True)
class SweepReport:
    """What the sweep's config asks of its end: how many best trials to ensemble, whether to log the best model,
    and the sweeper's config to keep on the parent run."""

    ensemble_k: int
    log_model: bool
    sweeper_config: Any

    def write(
        self, study: optuna.Study, plan: SweepPlan, tracker: SweepTracker, counts: Mapping[str, int], status: str
    ) -> None:
        """Results file, plots, counts and best trial on the parent run, which ends as `status` (KILLED if the
        report itself is cut short, by Ctrl-C as it draws the plots, say; FAILED if it fails); the top trials on
        the terminal."""
        try:
            results = self._log(study, plan, tracker, counts, status)
        except BaseException as cut:
            # the store that failed the report may fail this too: the report's error is the one to show
            with deferred(signal.SIGINT, signal.SIGTERM), contextlib.suppress(Exception):
                tracker.end_parent("KILLED" if isinstance(cut, KeyboardInterrupt) else "FAILED")
            raise
        with deferred(signal.SIGINT, signal.SIGTERM):
            tracker.end_parent(status)
        console = Console(soft_wrap=True)
        if results is not None:
            console.print(top_trials_table(study))
            if len(plan.directions) == 1:
                best = study.best_trial
                console.print(
                    f"best trial {best_label(study, plan.sweep_dir)}: value {best.value:.4g} with {best.params}",
                    markup=False,
                )
            console.print(f"results: {results}", markup=False)
        elif line := stranded_line(study, plan.settings.schedule):
            console.print(line, markup=False)
        if study.get_trials(deepcopy=False):  # a sweep stopped before its first trial has none to compare
            link = view_link(tracker.experiment_id, tracker.parent_run_id)
            console.print(ui_hint(plan.tracking_uri, plan.experiment, link), markup=False)

    def _log(
        self, study: optuna.Study, plan: SweepPlan, tracker: SweepTracker, counts: Mapping[str, int], status: str
    ) -> Path | None:
        """Everything the parent run gets before it ends; the results file (None: no trial complete)."""
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
                tags.update({f"best.{mlflow_name(name)}": str(value) for name, value in best.params.items()})
                tags["best.trial"] = str(best.number)
                # in this store (the study records the run of the store it first ran in); a continued trial's run
                # began as an earlier trial's
                run_id = tracker.run_of(best.number, best.user_attrs.get(RUN_ID_ATTR))
                if run_id:
                    tags["best.run_id"] = run_id
        tracker.log_parent_changes(metrics, tags, step=sum(counts.values()))
        from sweepwise.sweep.driver.study_plots import save_study_plots  # matplotlib: a second, paid at the end

        plots: list[Path | None] = list(save_study_plots(study, plan.sweep_dir / "plots"))
        if isinstance(plan.settings.schedule, Pbt):
            from sweepwise.sweep.driver.pbt_lineage import save_lineage_figure

            plots.append(save_lineage_figure(study, plan.sweep_dir / "plots" / "pbt_lineage.png"))
        for path in plots:
            if path is not None:
                tracker.log_parent_artifact(path, "plots")
        finished_with_best = status == "FINISHED" and len(plan.directions) == 1 and results is not None
        if self.ensemble_k and finished_with_best:
            self._ensemble(study, plan, tracker)
        if self.log_model and finished_with_best:
            _log_best_model(study, plan, tracker)
        tracker.log_parent_json(redact(self.sweeper_config), "sweep_config.json")
        return results

    def _ensemble(self, study: optuna.Study, plan: SweepPlan, tracker: SweepTracker) -> None:
        """The best `recipe.ensemble_top_k` trials alone and averaged, on the parent run."""
        from sweepwise.recipe.ensemble import evaluate_ensemble, log_to_parent, report  # imports torch

        rows, gain, gain_se = evaluate_ensemble(study, plan.sweep_dir, self.ensemble_k)
        files = report(rows, gain, gain_se, plan.sweep_dir / "ensemble")
        tracker.writer.call(log_to_parent, tracker.client, tracker.parent_run_id, rows, gain, gain_se, files)


def _log_best_model(study: optuna.Study, plan: SweepPlan, tracker: SweepTracker) -> None:
    """The best trial's model on the parent run, once: a re-run of a finished sweep whose best trial has not
    changed points at the model already there. The sweep's results stand without it, so a model that cannot be
    exported (or a missing checkpoint) is a warning line, not a failed sweep."""
    from sweepwise.sweep.driver.best_model import log_best_model  # imports torch

    logged = tracker.parent_data().tags  # also flushes: then the store has one writer, this thread
    if logged.get(MODEL_TRIAL_TAG) == str(study.best_trial.number) and MODEL_URI_TAG in logged:
        print(f"best model (trial {study.best_trial.number}): {logged[MODEL_URI_TAG]} on the parent run, as before")
        return
    try:
        best = log_best_model(study, plan.sweep_dir, plan.tracking_uri, tracker.parent_run_id)
    except MlflowException as error:
        if gave_up(error):
            raise
        _model_not_logged(tracker, error)
    except Exception as error:  # torch.export refusing a user's model, a trial folder gone, ...
        _model_not_logged(tracker, error)
    else:
        tracker.log_parent({}, {MODEL_TRIAL_TAG: str(best.trial), MODEL_URI_TAG: best.logged.uri}, step=0)
        size = best.logged.size_bytes
        shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
        print(
            f"best model (trial {best.trial}): {best.logged.uri} on the parent run, {shown}, logged in "
            f"{best.seconds:.1f} s; it takes {best.inputs}; register it from the run's "
            "Artifacts tab in the MLflow UI",
        )


def _model_not_logged(tracker: SweepTracker, error: Exception) -> None:
    reason = f"{type(error).__name__}: {first_line(error)}"
    tracker.log_parent({}, {MODEL_ERROR_TAG: reason}, step=0)
    print(f"warning: the best trial's model was not logged as an MLflow model ({reason})")


def best_label(study: optuna.Study, sweep_dir: Path) -> str:
    """The best trial's number, with where its work is when it began as another trial (its folder and run)."""
    best, trials = study.best_trial, study.get_trials(deepcopy=False)
    began = first_of_its_work(best, trials)
    if began == best.number:
        return str(best.number)
    return f"{best.number} (its work began as trial {began}: folder {sweep_dir / str(began)}, MLflow run trial-{began})"


def ui_hint(uri: str, experiment: str, link: str) -> str:
    """How to compare the trials in the MLflow UI, at `link` (the trials' view) in it: in sweepwise's own checkout
    `make ui` serves its `./mlflow.db` (any other store named with `DB=`); anywhere else, MLflow's own `mlflow ui`
    on the store; a tracking server serves its own UI."""
    if uri.startswith(("http://", "https://")):
        return f"compare the trials: open {uri.rstrip('/')}/{link}  (experiment {experiment})"
    here = Path.cwd()
    if not ((here / "Makefile").is_file() and (here / "src" / "sweepwise").is_dir()):
        command = f"mlflow ui --backend-store-uri {hide_password(uri)}"
    elif uri == f"sqlite:///{here / 'mlflow.db'}":
        command = "make ui"
    else:
        command = f"make ui DB={hide_password(uri)}"
    return f"compare the trials: {command}  (experiment {experiment}), then open {LOCAL_UI}{link}"


def stranded_line(study: optuna.Study, schedule: Schedule | None) -> str | None:
    """Why a scheduled sweep ended with no trial trained to its end: its work is paused where the schedule lets none
    of it go on (asha: a rung's top 1/reduction_factor of fewer works than the factor is none), and which paused
    work is best so far."""
    if schedule is None or len(study.directions) != 1:
        return None
    trials = study.get_trials(deepcopy=False)
    paused = [
        (value, trial) for trial in results(trials) if is_paused(trial) and (value := last_value(trial)) is not None
    ]
    if not paused:
        return None
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    value, best = max(paused, key=lambda pair: pair[0] if maximize else -pair[0])
    return (
        f"no trial trained to its end: {len(paused)} paused where the schedule lets none go on; the best paused is "
        f"trial {best.number} ({value:.4g} at step {max(best.intermediate_values)}): a larger hydra.sweeper.n_trials "
        "gives the rungs enough work to promote"
    )


def last_value(trial: optuna.trial.FrozenTrial) -> float | None:
    step = max(trial.intermediate_values, default=None)
    return trial.intermediate_values[step] if step is not None else None
