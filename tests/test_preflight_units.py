"""The preflight's slow-versus-broken logic on made-up numbers: when the range test's evidence turns a FAIL into
a WARN, and when it must not."""

import numpy as np
import pytest

from sweepwise.recipe.learning_rate_checks import FasterRate, RangeCurve, faster_rate, slow_not_broken
from sweepwise.recipe.report import FAIL, PASS, WARN, CheckResult

RATES = np.geomspace(1e-6, 10.0, 8)


def curve(*losses: float) -> RangeCurve:
    return RangeCurve(RATES[: len(losses)], np.asarray(losses))


def test_the_suggested_interval_lies_below_the_rate_of_the_lowest_loss():
    halving = curve(2.3, 2.3, 2.2, 1.5, 0.6, 0.4, 3.0)
    assert halving.best == pytest.approx(RATES[5])
    low, high = halving.suggested
    assert low == pytest.approx(RATES[5] / 100) and high == pytest.approx(RATES[5] / 3)


@pytest.mark.parametrize(
    ("losses", "configured", "learns"),
    [
        ((2.3, 2.3, 2.2, 1.5, 0.6, 0.4, 3.0), 1e-6, True),  # far below an interval where the loss halved
        ((2.3, 2.3, 2.2, 1.5, 0.6, 0.4, 3.0), 1e-2, False),  # inside the interval: its own failures stand
        ((2.3, 2.3, 2.2, 1.9, 1.6, 1.4, 3.0), 1e-6, False),  # the loss fell but never halved: no evidence
        ((2.3, 2.3, 2.3, 2.3), 1e-6, False),  # nothing learned at any rate
    ],
)
def test_a_rate_that_learns_is_offered_only_below_an_interval_where_the_loss_halved(losses, configured, learns):
    rate = curve(*losses).learning_rate_for(configured)
    assert (rate is not None) == learns
    if rate is not None:
        low, high = curve(*losses).suggested
        assert low < rate < high


def test_only_a_fail_with_evidence_of_learning_becomes_a_warn():
    failed = CheckResult("training loss decreases", FAIL, "2.30 -> 2.29", "halves")
    faster = FasterRate(0.4, "below the range test's interval, where its loss halved")
    assert slow_not_broken(failed, 3e-4, None) is failed
    assert slow_not_broken(CheckResult("x", PASS, "", ""), 3e-4, faster).status == PASS
    warned = slow_not_broken(failed, 3e-4, faster)
    assert warned.status == WARN
    assert warned.measured == "2.30 -> 2.29; at lr 0.0003, below the range test's interval, where its loss halved"
    assert "try lr 0.4" in warned.meaning


def test_evidence_of_a_faster_rate_is_the_range_tests_first_then_one_batch_memorised_only_at_a_higher_rate():
    assert faster_rate(None, None) is None
    assert faster_rate(0.4, 3e-3) == FasterRate(0.4, "below the range test's interval, where its loss halved")
    memorised = faster_rate(None, 3e-3)
    assert memorised is not None and memorised.rate == 3e-3
    assert memorised.shown_by == "while one batch was memorised only at lr 0.003"
