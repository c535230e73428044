"""One background thread for a sweep's MLflow writes: the sweep's loop does not wait for the store."""

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

Call = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class BackgroundWriter:
    """Runs calls one at a time, in submission order, on a single thread (so the store sees a single writer).

    Failures are never dropped: `check()` re-raises the first failure among finished calls, `flush()` waits for
    every call and re-raises the first failure. After a failure, later calls fail at once with the same error
    instead of each waiting out the store's retries (the sweep is ending; a resumed sweep repairs the store).

    The thread is a daemon: a sweep stopped by Ctrl-C while a call waits out a server's retries (minutes) exits
    at once, where a pool's thread would hold the process until the call gave up. Every sweep's end flushes its
    calls before it returns; the store is left to the resumed sweep only when the process is stopped.
    """

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[Call | None] = queue.SimpleQueue()
        self._pending: list[Future[Any]] = []
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="mlflow-writer", daemon=True)
        self._thread.start()

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._calls.put((future, function, args, kwargs))
        self._pending.append(future)
        return future

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            future, function, args, kwargs = call
            try:
                future.set_result(self._run(function, *args, **kwargs))
            except BaseException as error:
                future.set_exception(error)

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
            self._calls.put(None)
            self._thread.join()
