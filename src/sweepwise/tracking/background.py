"""One background thread for a sweep's MLflow writes: the sweep's loop does not wait for the store."""

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class BackgroundWriter:
    """Runs calls one at a time, in submission order, on a single thread (so the store sees a single writer).

    Failures are never dropped: `check()` re-raises the first failure among finished calls, `flush()` waits for
    every call and re-raises the first failure. After a failure, later calls fail at once with the same error
    instead of each waiting out the store's retries (the sweep is ending; a resumed sweep repairs the store).
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlflow-writer")
        self._pending: list[Future[Any]] = []
        self._failure: BaseException | None = None

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        future = self._executor.submit(self._run, function, *args, **kwargs)
        self._pending.append(future)
        return future

    def _run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._failure is not None:
            raise self._failure
        try:
            return function(*args, **kwargs)
        except BaseException as error:
            self._failure = error
            raise

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run after everything submitted before it, and wait for the result."""
        return self.submit(function, *args, **kwargs).result()

    def check(self) -> None:
        done = [future for future in self._pending if future.done()]
        self._pending = [future for future in self._pending if not future.done()]
        for future in done:
            future.result()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._executor.shutdown(wait=True)
