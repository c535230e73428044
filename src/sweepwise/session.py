"""What a training run is told about the trial it belongs to, if any: one small object instead of hidden state.

A sweep's trial process hands its run a session (`sweepwise.sweep.trial.sweep_session.SweepSession`) that knows the
trial's MLflow run, reports each epoch to the study (and says when to prune), and tells whether the run continues an
attempt that died. A run outside a sweep gets the plain `TrialSession`. The training code asks the session and
never imports Optuna or the sweep.

Hydra calls a task function with its config alone, so the trial runner hands the session over around that call
(`handing_over`) and the entry point takes it (`session_for_task`): the one place where it crosses as process state.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

# called after each epoch with its number and metrics; returns a reason to stop training, or None
EpochReport = Callable[[int, Mapping[str, float]], str | None]


@dataclass
class TrialSession:
    """A run on its own: it logs to its config's tracking store, starts afresh unless told to resume, and ends its
    MLflow run itself."""

    # the MLflow store to log to (None: the config's `tracking.uri`)
    tracking_uri: str | None = None
    # the MLflow run to log into (a sweep trial's own run); None: the run creates one
    run_id: str | None = None
    # the run a created run belongs under (a plain multirun's parent run), and its name, unless the config says
    parent_run_id: str | None = None
    run_name: str | None = None
    # an attempt after one whose process died: the run continues from its own last checkpoint
    continues_attempt: bool = False
    # False where the sweep ends the run, since the trial's verdict decides its final state
    ends_run: bool = True
    # params the run already has (a sweep's searched and fixed values), which the run does not log again
    logged_params: frozenset[str] = field(default_factory=frozenset)
    # set when the cluster is about to requeue the trial: the exit that follows is not the run's failure
    requeued: bool = False
    # why the run was stopped early on the sweep's word (pruned), if it was
    stopped_by_sweep: str | None = None

    def epoch_reports(self, metric: str) -> list[EpochReport]:
        """Epoch callbacks for the training loop: none outside a sweep."""
        return []


_handed_over: TrialSession | None = None


@contextmanager
def handing_over(session: TrialSession | None) -> Iterator[None]:
    """Make `session` the one `session_for_task` returns while the task function runs."""
    global _handed_over
    _handed_over = session
    try:
        yield
    finally:
        _handed_over = None


def session_for_task() -> TrialSession:
    """The session handed over for the task now running, or a plain one."""
    return _handed_over if _handed_over is not None else TrialSession()
