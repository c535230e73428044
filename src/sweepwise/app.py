"""One training run: config -> data, model, optimiser, schedule -> training loop -> MLflow -> objective value."""

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NamedTuple

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from sweepwise import configure
from sweepwise.console import make_progress, print_summary
from sweepwise.data import DataModule
from sweepwise.schedules import Schedule
from sweepwise.spec.run import RunSpec, run_spec
from sweepwise.spec.schema import TrainerSettings
from sweepwise.tasks import Task
from sweepwise.tracking.curve_plots import save_curves
from sweepwise.tracking.params import flatten
from sweepwise.tracking.provenance import provenance_tags, run_name
from sweepwise.tracking.secrets import redact
from sweepwise.training.budget import budget_warnings
from sweepwise.training.checkpoint import load_checkpoint
from sweepwise.training.cluster_ranks import ClusterRank, cluster_rank_zero
from sweepwise.training.distributed import Ranks, check_devices, started_ranks
from sweepwise.training.loop import LAST_CHECKPOINT, SINGLE_PROCESS, EpochCallback, Progress, Trainer, planned_steps
from sweepwise.training.runtime import autocast_for, device_tags, resolve_device, seed_everything
from sweepwise.trial_api import Trial, current_trial

RUN_ID_KEY = "mlflow_run_id"


def train(
    cfg: DictConfig, overrides: Sequence[str] = (), trial: Trial | None = None, spec: RunSpec | None = None
) -> float:
    """Train once as `cfg` says and return the best value of `cfg.objective.metric` over the epochs.

    `trial` is the trial the run is (a sweep's, or a run of its own: `current_trial()` when not given); `spec` is
    `cfg` checked (built here when not given). Everything the user can get wrong is checked before the MLflow run
    is created, so a bad config leaves no run behind; a run that starts and then dies records its error (and, when
    it ends its own run, ends it FAILED).
    """
    trial = trial or current_trial()
    spec = spec or run_spec(cfg)
    device = resolve_device(spec.trainer.device)
    devices = check_devices(spec.trainer.devices, device)
    checkpoint = _checkpoint_to_resume(spec.trainer, trial)
    resolved = OmegaConf.to_container(cfg, resolve=True)  # the other ranks' config: no Hydra where they run
    place, arguments = ClusterRank.of_environment(), (resolved, spec, checkpoint)
    with (
        cluster_rank_zero(place, devices, device, _train_as_rank, arguments)
        if place is not None
        else started_ranks(devices, device, _train_as_rank, arguments)
    ) as ranks:
        return _train_main(cfg, spec, overrides, trial, ranks, checkpoint)


def _train_main(
    cfg: DictConfig,
    spec: RunSpec,
    overrides: Sequence[str],
    trial: Trial,
    ranks: Ranks,
    checkpoint_file: Path | None,
) -> float:
    """Rank 0 (the only rank of most runs): trains, and logs, checkpoints and reports for every rank (the other
    ranks join its reports, to hear its word to stop)."""
    settings, objective, tracking = spec.trainer, spec.objective, spec.tracking
    device = ranks.device(resolve_device(settings.device))
    autocast = autocast_for(device, settings.precision)
    progress = make_progress(settings.progress, settings.batch_size)
    parts = training_parts(cfg, spec, device, ranks)
    task, data, model = parts.task, parts.data, parts.model
    task.check_metric("objective.metric", objective.metric, data)
    task.check_metric("trainer.early_stopping.metric", settings.early_stopping.metric, data)
    steps = planned_steps(settings, data.steps_per_epoch(settings.batch_size))
    for warning in budget_warnings(data.num_train, settings.batch_size, steps):
        print(f"warning: {warning}", flush=True)
    checkpoint = load_checkpoint(checkpoint_file, _checkpoint_key(settings)) if checkpoint_file else None
    output_dir = Path(cfg.output_dir)

    run = trial.open_run(
        experiment=tracking.experiment,
        run_name=tracking.run_name or trial.facts.run_name or run_name(str(cfg.model._target_), overrides),
        tags={**provenance_tags(overrides), **device_tags(device, ranks.world)},
        tracking_uri=tracking.uri,
        parent_run_id=tracking.parent_run_id,
        resume_run_id=checkpoint.get(RUN_ID_KEY) if checkpoint else None,
        every=tracking.log_every_n_steps,
    )
    try:
        if checkpoint is None:
            params = flatten(OmegaConf.to_container(cfg, resolve=True))
            run.log_params({key: value for key, value in params.items() if key not in trial.facts.logged_params})
            config_file = output_dir / "config.yaml"
            config_file.parent.mkdir(parents=True, exist_ok=True)
            config_file.write_text(OmegaConf.to_yaml(redact(OmegaConf.to_container(cfg, resolve=True))))
            run.log_artifact(config_file)
        dynamics = task.probe(data, steps, settings.batch_size)
        trainer = _trainer(
            spec,
            parts,
            autocast,
            progress,
            ranks,
            callbacks=[reporter(trial, objective.metric)],
            checkpoint_extra={RUN_ID_KEY: run.run_id},
            probe=dynamics,
            recorder=run if tracking.log_every_n_steps else None,
        )
        if checkpoint is not None:
            trainer.resume(checkpoint)
            print(f"resumed from the checkpoint of epoch {trainer.state.epoch}", flush=True)
            run.set_tags({"sweepwise.resumed_from_epoch": trainer.state.epoch})
        state = trainer.fit()
        progress.close()
        run.log_artifact(save_curves(state.history, task.score, output_dir / "curves.png"))
        kept = tracking.checkpoint_file
        folder = settings.checkpoint_folder
        if kept and folder and (folder / kept).is_file():
            run.log_artifact(folder / kept, "checkpoints")
        for path in [
            *(dynamics.save(output_dir / "prediction_dynamics.png") if dynamics is not None else []),
            *task.figures(model, data, settings.eval_batch_size, output_dir),
        ]:
            run.log_artifact(path, "predictions")
        run.set_tags(
            {
                "sweepwise.best_epoch": state.best_epoch,
                "sweepwise.stop_reason": state.stop_reason or "completed",
            }
        )
        assert state.best_value is not None  # set by the first epoch, and a run plans at least one
        run.log_metrics({f"best/{objective.metric}": state.best_value}, step=state.best_epoch)
    except BaseException as error:
        progress.close()
        trial.end(error)
        raise
    trial.end()
    final = state.history[-1]
    print_summary(
        "sweepwise run",
        {
            "mlflow run": run.run_id,
            "epochs": state.epoch,
            "steps": state.step,
            f"best {objective.metric}": state.best_value,
            "best epoch": state.best_epoch,
            **task.summary(final),
            "samples/s (last)": final["train/samples_per_sec"],
            "stopped by": state.stop_reason or "plan completed",
            "outputs": str(output_dir),
        },
    )
    return float(state.best_value)


class TrainingParts(NamedTuple):
    task: Task
    data: DataModule
    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Schedule


def training_parts(
    cfg: DictConfig, spec: RunSpec, device: torch.device, ranks: Ranks = SINGLE_PROCESS
) -> TrainingParts:
    """Task, data (this rank's share of it), model, optimiser and schedule, built alike on every rank."""
    settings = spec.trainer
    seed_everything(settings.seed, settings.deterministic)
    task = configure.build_task(cfg)
    data = configure.build_data(cfg.data, task).to(device).shard(ranks.rank, ranks.world)
    model = configure.build_model(cfg.model, data, task).to(device)
    if settings.channels_last and data.is_image:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack it
    if spec.recipe.init_bias:
        task.init_output(model, data, settings.batch_size)
    optimizer = configure.build(cfg.optimizer, "optimizer")(model.parameters())
    return TrainingParts(task, data, model, optimizer, configure.build(cfg.schedule, "schedule"))


def _train_as_rank(resolved: dict[str, Any], spec: RunSpec, checkpoint_file: Path | None, ranks: Ranks) -> None:
    """Rank r > 0 of a multi-process run: trains its slice of each batch, logging and saving nothing (rank 0's
    spec comes with it: nothing is checked twice)."""
    cfg = OmegaConf.create(resolved)
    device = ranks.device(resolve_device(spec.trainer.device))
    parts = training_parts(cfg, spec, device, ranks)
    autocast = autocast_for(device, spec.trainer.precision)
    progress = make_progress("off", spec.trainer.batch_size)
    trainer = _trainer(spec, parts, autocast, progress, ranks, callbacks=[reporter(current_trial(), "")])
    if checkpoint_file is not None:
        trainer.resume(load_checkpoint(checkpoint_file, _checkpoint_key(spec.trainer)))
    trainer.fit()


def _trainer(
    spec: RunSpec,
    parts: TrainingParts,
    autocast: Callable[[], AbstractContextManager[None]],
    progress: Progress,
    ranks: Ranks,
    **hooks: Any,
) -> Trainer:
    """The training loop over `parts` as `spec` says, on every rank (rank 0 adds its callbacks and probes)."""
    task, data, model, optimizer, schedule = parts
    return Trainer(
        model, optimizer, schedule, data, task, spec.trainer, spec.objective, autocast, progress, ranks=ranks, **hooks
    )


def _checkpoint_key(settings: TrainerSettings) -> str:
    return "trainer.resume_from" if settings.resume_from else "trainer.checkpoint_dir"


def reporter(trial: Trial, metric: str) -> EpochCallback:
    """The training loop's epoch callback: the epoch's metrics reported to `trial`, whose word to stop ends the
    training (on every rank: each calls it). The last epoch's report is the training's last: nothing stops it."""

    def report(epoch: int, metrics: Mapping[str, float], last: bool) -> str | None:
        return trial.pruned if trial.report(epoch, metrics, objective=metric, last=last) else None

    return report


def _checkpoint_to_resume(settings: TrainerSettings, trial: Trial) -> Path | None:
    """`trainer.resume_from` when given (it must exist); a trial started again after its process died continues
    from its own last checkpoint."""
    if settings.resume_from:
        path = Path(settings.resume_from)
        load_checkpoint(path)  # a missing or unreadable file is the config's error, before anything starts
        return path
    folder = settings.checkpoint_folder
    if trial.resuming and folder and (folder / LAST_CHECKPOINT).is_file():
        return folder / LAST_CHECKPOINT
    return None
