"""Trials on another plugin's Hydra launcher (joblib, ray, rq, one of the user's own), through that launcher's
own `launch()`, `n_jobs` at a time.

Such a launcher returns a batch of jobs all at once, so each batch waits for its slowest trial: sweepwise's own
launchers start the next trial as soon as a slot frees. The trials get everything else: their study, their MLflow
runs, pruning and checkpoints. Each job runs as sweepwise runs a trial (`TrialRunner.run_in_job`), on the config the
launcher's job composed; the trial it is comes from its job number (`hydra.job.num`), which the launcher numbers
from the batch's first, so a batch is a run of consecutive numbers.
"""

import threading
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.errors import HydraException
from hydra.plugins.launcher import Launcher
from hydra.utils import get_class
from omegaconf import DictConfig

from sweepwise.errors import ConfigError, first_line
from sweepwise.internals.hydra_internals import raised_by
from sweepwise.sweep.launch.executor import StartedJob
from sweepwise.sweep.outcome import Died, TrialOutcome
from sweepwise.sweep.trial.trial_runner import TrialJob, TrialRunner


@dataclass(frozen=True)
class OtherLauncher:
    """A launcher sweepwise does not run itself: named by its `_target_`, run by its own `launch()`."""

    target: str

    @classmethod
    def of(cls, target: str) -> "OtherLauncher":
        """Checked before anything is written: Hydra makes a launcher of a class in the `hydra_plugins` package."""
        try:
            found = get_class(target)
        except (ImportError, ValueError, HydraException) as error:
            raise ConfigError("hydra.launcher._target_", target, f"cannot be imported ({first_line(error)})") from None
        if not (issubclass(found, Launcher) and found.__module__.startswith("hydra_plugins.")):
            raise ConfigError(
                "hydra.launcher._target_", target, "must be a Hydra launcher plugin: a Launcher in hydra_plugins.*"
            )
        return cls(target)


class LauncherTask:
    """The task function the launcher's jobs run: the trial job whose number the job has, run as a trial."""

    def __init__(self, runner: TrialRunner, jobs: dict[int, TrialJob]) -> None:
        self.runner, self.jobs = runner, jobs

    def __call__(self, config: DictConfig) -> TrialOutcome:
        return self.runner.run_in_job(self.jobs[int(HydraConfig.get().job.num)], config)


class HydraLauncherExecutor:
    """Runs the trials submitted since the last batch ended as one batch of the launcher's, in a thread of its
    own; `wait` reports them together when the launcher returns."""

    def __init__(self, runner: TrialRunner, target: str) -> None:
        self.runner, self.job_kind = runner, f"job of {target.rsplit('.', 1)[-1]}"
        self.launcher: Launcher | None = None
        self.waiting: dict[int, TrialJob] = {}
        self.batch: dict[int, TrialJob] = {}
        self.returned: dict[int, TrialOutcome | Died] | None = None
        self.done = threading.Event()

    @property
    def held(self) -> int:
        return len(self.waiting) + len(self.batch)

    def submit(self, key: int, job: TrialJob) -> str | None:
        self.waiting[key] = job
        return None

    def dispatch(self) -> list[StartedJob]:
        if self.waiting and not self.batch:
            self.batch, self.waiting = self.waiting, {}
            self.done.clear()
            threading.Thread(target=self._launch, args=(dict(self.batch),), daemon=True).start()
        return []

    def _launch(self, batch: dict[int, TrialJob]) -> None:
        """Launch the batch's runs of consecutive job numbers, each as one call of the launcher's `launch()`."""
        returned: dict[int, TrialOutcome | Died] = {}
        try:
            for run in _consecutive(sorted(batch.items(), key=lambda item: item[1].job_num)):
                jobs = {job.job_num: job for _, job in run}
                launcher = self._launcher(jobs)
                results = launcher.launch([list(job.overrides) for _, job in run], initial_job_idx=run[0][1].job_num)
                returned.update({key: _outcome(result) for (key, _), result in zip(run, results, strict=True)})
        except Exception as error:  # the launcher's own failure: its jobs have no outcome
            reason = f"the launcher failed: {type(error).__name__}: {first_line(error)}"
            returned.update({key: Died(reason) for key in batch if key not in returned})
        self.returned = returned
        self.done.set()

    def _launcher(self, jobs: dict[int, TrialJob]) -> Launcher:
        """The launcher, set up to run `jobs` (made once from the config, as Hydra makes it)."""
        runner, task = self.runner, LauncherTask(self.runner, jobs)
        if self.launcher is None:
            self.launcher = Plugins.instance().instantiate_launcher(
                hydra_context=runner.hydra_context, task_function=task, config=runner.config
            )
        else:
            self.launcher.setup(hydra_context=runner.hydra_context, task_function=task, config=runner.config)
        return self.launcher

    def wait(self, timeout: float | None) -> list[tuple[int, TrialOutcome | Died]]:
        if not self.batch or not self.done.wait(timeout):
            return []
        returned, self.returned, self.batch = self.returned or {}, None, {}
        return list(returned.items())

    def kill(self, key: int) -> None:
        """Nothing to do: the launcher has no way to stop one of its jobs (a stopped sweep leaves them to end)."""

    def adopt(self, key: int, job_id: str, log_file: str | None) -> bool:
        return False

    def cancel_stale(self, job_id: str) -> None:
        """Nothing: the launcher's jobs have no id outside it."""

    def log_files(self, key: int) -> list[Path]:
        return []

    def shutdown(self) -> None:
        self.waiting.clear()


def _consecutive(jobs: list[tuple[int, TrialJob]]) -> list[list[tuple[int, TrialJob]]]:
    """`jobs` (by job number) cut where a number is not the one after the last."""
    runs: list[list[tuple[int, TrialJob]]] = []
    for item in jobs:
        if runs and item[1].job_num == runs[-1][-1][1].job_num + 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _outcome(result: JobReturn) -> TrialOutcome | Died:
    """The trial's outcome its job returned; a job that failed outside the trial (composing its config) died."""
    raised = raised_by(result)
    if raised is not None:
        return Died(f"its job failed: {type(raised).__name__}: {first_line(raised)}")
    value = result.return_value
    return value if isinstance(value, TrialOutcome) else Died(f"its job returned {type(value).__name__}, no trial")
