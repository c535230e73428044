"""The trials' own output on the sweep's terminal, when asked for (`hydra.sweeper.show_trial_output=true`).

A trial's prints and errors go to its `trial.log` (from a worker process or a SLURM job alike), so the sweep's
terminal stays readable. Asked for, each new line of every running trial's log is shown there too as it is
written, prefixed with its trial (`[trial 3] epoch 2 ...`). The logs are read, not piped, so this works the same
for trials on other nodes that share the sweep's folder.
"""

import threading
from collections.abc import Callable
from pathlib import Path

POLL_S = 0.5


class TrialOutput:
    """Follows the logs of running trials in a thread of its own, handing each new line to `show`."""

    def __init__(self, show: Callable[[str], None], poll_s: float = POLL_S) -> None:
        self.show, self.poll_s = show, poll_s
        self.followed: dict[int, tuple[Path, int]] = {}  # trial: its log and how far it has been shown
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._follow_all, name="trial-output", daemon=True)
        self.thread.start()

    def follow(self, number: int, log: Path) -> None:
        """Show what the trial writes from now on (a retried or continued attempt appends to its log)."""
        with self.lock:
            self.followed[number] = (log, log.stat().st_size if log.is_file() else 0)

    def end(self, number: int) -> None:
        """Show the rest of an ended trial's output, then stop following it."""
        with self.lock:
            if number in self.followed:
                self._show_new(number, final=True)
                del self.followed[number]

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()

    def _follow_all(self) -> None:
        while not self.stopped.wait(self.poll_s):
            with self.lock:
                for number in list(self.followed):
                    self._show_new(number, final=False)

    def _show_new(self, number: int, final: bool) -> None:
        """The complete lines written since the last look (and, once the trial has ended, a last partial one)."""
        log, shown = self.followed[number]
        if not log.is_file() or log.stat().st_size <= shown:
            return
        with open(log, "rb") as file:
            file.seek(shown)
            written = file.read()
        complete = written if final else written[: written.rfind(b"\n") + 1]
        self.followed[number] = (log, shown + len(complete))
        lines = complete.decode(errors="replace").split("\n")
        for line in lines[:-1] if lines[-1] == "" else lines:
            # a progress bar rewrites its line with carriage returns: shown as a terminal leaves it, its last state
            last = next((part for part in reversed(line.split("\r")) if part), "")
            self.show(f"[trial {number}] {last}")
