"""A trial's output on the sweep's terminal: followed line by line when asked for, else its last lines on a FAIL."""

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO, run_script

from sweepwise.sweep.driver.trial_output import TrialOutput

STATEFUL = REPO / "tests" / "apps" / "stateful.py"


@contextlib.contextmanager
def following(log: Path, number: int, earlier: str, poll_s: float) -> Iterator[tuple[TrialOutput, list[str]]]:
    """A `TrialOutput` following trial `number`'s log, which holds `earlier` already, and the lines it shows."""
    log.write_text(earlier)
    shown: list[str] = []
    output = TrialOutput(shown.append, poll_s=poll_s)
    try:
        output.follow(number, log)
        yield output, shown
    finally:
        output.close()


def test_new_lines_are_shown_with_their_trial_as_they_are_written(tmp_path: Path) -> None:
    log = tmp_path / "trial.log"
    with following(log, 3, "from an earlier attempt\n", poll_s=0.01) as (output, shown):
        with open(log, "a") as file:
            file.write("epoch 1\nepoch 2 half")
            file.flush()
            deadline = time.monotonic() + 5
            while shown != ["[trial 3] epoch 1"] and time.monotonic() < deadline:
                time.sleep(0.01)
            assert shown == ["[trial 3] epoch 1"]  # a line is shown once it is whole
            file.write("\nValueError: the end")
        output.end(3)
        assert shown == ["[trial 3] epoch 1", "[trial 3] epoch 2 half", "[trial 3] ValueError: the end"]
        output.end(3)  # a trial ends once; a second end shows nothing
        assert len(shown) == 3


def test_a_line_rewritten_by_carriage_returns_is_shown_as_a_terminal_leaves_it(tmp_path: Path) -> None:
    log = tmp_path / "trial.log"
    with following(log, 0, "", poll_s=60) as (output, shown):
        log.write_text("\rprogress 0%\rprogress 50%\rprogress 100%\r\n\nnext\r\n")
        output.end(0)
        assert shown == ["[trial 0] progress 100%", "[trial 0] ", "[trial 0] next"]


@pytest.mark.slow
def test_a_sweep_asked_to_shows_its_trials_output_prefixed_with_the_trial(tmp_path: Path) -> None:
    args = ["-m", "hydra.sweeper.n_trials=1", "behaviour=raise", "hydra.sweeper.show_trial_output=true"]
    done = run_script(STATEFUL, args, tmp_path, python_flags=["-W", "error"])
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "[trial 0] ValueError: planted failure" in lines
    assert any(line.startswith("[trial 0] Traceback") for line in lines)
    assert not any("the last lines of trial 0's output" in line for line in lines)  # shown once, as it came
    ended = next(number for number, line in enumerate(lines) if line.startswith("trial 0 FAIL"))
    assert all(number < ended for number, line in enumerate(lines) if line.startswith("[trial 0]"))  # then its end
