"""How long MLflow requests to a tracking server are retried, and a clear error once they give up.

MLflow's HTTP client retries a failed request with exponential backoff: it sleeps 0, 2f, 4f, 8f, ... seconds
(f = `backoff_factor`, each sleep capped at 120 s) for up to `max_retries` retries. sweepwise sets that policy
from `tracking.retry` in every process it starts, so a server restart within the budget loses nothing, and a
server gone for longer fails the run with one line instead of hanging or dropping metrics.
"""

import os
import re

from mlflow.exceptions import MlflowException

from sweepwise.errors import SweepwiseError
from sweepwise.spec.schema import RetrySettings

MAX_SLEEP_S = 120  # urllib3's cap on one backoff sleep
ENVIRONMENT = {
    "max_retries": "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "backoff_factor": "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "timeout_s": "MLFLOW_HTTP_REQUEST_TIMEOUT",
}
GAVE_UP_MARKERS = ("Max retries exceeded", "Connection refused", "Failed to establish a new connection")
SERVER_IN_MESSAGE = re.compile(r"API request to (\S+?)/api/")
GAVE_UP = "is unreachable: gave up after"
RESUME_HINT = "the study is consistent, and the same command resumes the sweep"


class TrackingUnreachable(SweepwiseError):
    """The MLflow tracking server did not answer within the retry budget."""


def apply_retry_policy(retry: RetrySettings | None) -> None:
    """Set MLflow's retry policy from `tracking.retry` for this process and the processes it starts (None, or a
    null field, keeps MLflow's)."""
    for key, variable in ENVIRONMENT.items():
        value = getattr(retry, key, None)
        if value is not None:
            os.environ[variable] = str(value)


def backoff_budget_s(max_retries: int, backoff_factor: int) -> float:
    """The seconds MLflow sleeps between the retries of one request (besides up to 1 s of jitter per retry)."""
    return float(sum(min(MAX_SLEEP_S, backoff_factor * 2**attempt) for attempt in range(1, max_retries)))


def gave_up(error: BaseException) -> bool:
    """Whether `error` is MLflow giving up on a server that does not answer."""
    return isinstance(error, MlflowException) and any(marker in str(error) for marker in GAVE_UP_MARKERS)


def unreachable_error(error: BaseException) -> TrackingUnreachable:
    """The one-line error for a server that did not answer (named as MLflow's message names it)."""
    found = SERVER_IN_MESSAGE.search(str(error))
    uri = found.group(1) if found else "(unknown address)"
    retries = int(os.environ.get(ENVIRONMENT["max_retries"], "7"))
    budget = backoff_budget_s(retries, int(os.environ.get(ENVIRONMENT["backoff_factor"], "2")))
    return TrackingUnreachable(
        f"MLflow tracking server {uri} {GAVE_UP} {retries} retries over ~{budget:.0f} s "
        "(tracking.retry sets how long to wait)"
    )
