"""Signal handling changed for a block: `deferred` holds Ctrl-C and SIGTERM until a step that must not stop
half-way (a worker's start) has ended, then lets them take effect as they would have."""

import os
import signal

import pytest

from sweepwise.sweep.signals import deferred


def test_a_signal_in_a_deferred_block_takes_effect_when_the_block_ends():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        finished = []
        with pytest.raises(KeyboardInterrupt), deferred(signal.SIGINT, signal.SIGTERM):
            os.kill(os.getpid(), signal.SIGINT)
            finished.append("the rest of the block")
        assert finished == ["the rest of the block"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handling found is back
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_deferred_block_without_a_signal_changes_nothing():
    before = signal.getsignal(signal.SIGTERM)
    with deferred(signal.SIGINT, signal.SIGTERM):
        pass
    assert signal.getsignal(signal.SIGTERM) is before
