"""The preflight's logic on made-up numbers: when the range test's evidence turns a FAIL into a WARN, and when it
must not; when the bound on a zeroed-input run decides without running it; the dumb baselines; the image grid."""

import math

import numpy as np
import pytest
import torch
from helpers import compose_config, write_csv

from sweepwise.data.tabular_csv import load_csv
from sweepwise.figures import image_grid, pyplot
from sweepwise.recipe.budget_checks import BudgetRuns, decreasing_loss, input_independent_baseline, steps_to_halve
from sweepwise.recipe.input_dependence import ZeroedBound, learns_from_inputs, zeroed_score
from sweepwise.recipe.learning_rate_checks import FasterRate, RangeCurve, faster_rate, slow_not_broken
from sweepwise.recipe.preflight import preflight_fingerprint
from sweepwise.recipe.report import FAIL, PASS, WARN, CheckResult
from sweepwise.tasks import Classification
from sweepwise.tasks.baselines import linear_accuracy, majority_accuracy

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


@pytest.mark.parametrize(
    ("losses", "configured", "tried"),
    [
        ((2.3, 2.3, 2.2, 1.9, 1.6, 1.4, 3.0), 1e-6, True),  # fell without halving (noisy classes): worth a try
        ((2.3, 2.3, 2.2, 1.9, 1.6, 1.4, 3.0), 1e-2, False),  # inside the interval already
        ((2.3, 2.3, 2.3, 2.3), 1e-6, False),  # nothing learned at any rate: no rate to try
        ((2.3, 2.3, 2.2, 1.9, 1.6, 1.4, 3.0), None, False),  # an optimiser without a rate
    ],
)
def test_a_rate_to_try_is_offered_below_an_interval_where_the_loss_fell(losses, configured, tried):
    rate = curve(*losses).rate_to_try(configured)
    assert (rate is not None) == tried
    if rate is not None:
        low, high = curve(*losses).suggested
        assert low < rate < high


def test_overfit_one_batch_asks_for_at_most_one_sample_per_input_feature(tmp_path):
    """Any model affine in its inputs fits as many points as it has inputs exactly: a linear model on 10 features
    is not asked to memorise 16 samples of 5 noisy classes."""
    table = load_csv(str(write_csv(tmp_path / "t.csv", rows=40)), label_column="species")
    assert Classification().memorisable(16, table) == 3
    assert Classification().memorisable(2, table) == 2


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


def accuracy(value: float, samples: int = 360) -> dict[str, float]:
    return {"val/acc": value, "val/acc_se": math.sqrt(value * (1 - value) / samples)}


def class_bound(largest_share: float, samples: int = 360) -> ZeroedBound:
    """The bound classification gives for validation labels whose largest class has `largest_share`."""
    largest = round(largest_share * samples)
    labels = torch.tensor([0] * largest + [1 + i % 9 for i in range(samples - largest)])
    return ZeroedBound(*Classification().zeroed_bound(labels))


@pytest.mark.parametrize("largest_share", [0.1, 0.3, 0.5, 0.8])
def test_a_run_that_beats_the_bound_beats_every_zeroed_run_the_bound_allows(largest_share: float):
    """With all-zero inputs a model answers one class for every sample: its accuracy is a class's share, at most the
    largest. Whenever the real run beats the bound, it beats each such zeroed run by the check's own criterion."""
    bound = class_bound(largest_share)
    assert bound.score == pytest.approx(largest_share)
    for real in np.linspace(0.0, 1.0, 201):
        if not learns_from_inputs(accuracy(real), bound, largest_share, "val/acc"):
            continue
        for share in np.linspace(0.0, largest_share, 50):
            assert learns_from_inputs(accuracy(real), accuracy(share), largest_share, "val/acc")


def test_the_bound_decides_only_a_clear_win():
    bound = class_bound(0.1)  # ten balanced classes
    assert learns_from_inputs(accuracy(0.95), bound, 0.1, "val/acc")
    assert not learns_from_inputs(accuracy(0.12), bound, 0.1, "val/acc")  # close to chance: a zeroed run must decide
    _, margin, reads = zeroed_score(accuracy(0.95), bound, "val/acc")
    assert margin == pytest.approx(3 * math.hypot(accuracy(0.95)["val/acc_se"], math.sqrt(0.1 * 0.9 / 360)))
    assert reads == "at most 0.1000 with zeros (the best constant prediction: not run)"


def test_linear_baseline_agrees_with_scikit_learns_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 6)) * 1.5
    labels = rng.integers(0, 4, 600)
    inputs = centres[labels] + rng.standard_normal((600, 6))
    train = torch.tensor(inputs[:400], dtype=torch.float32), torch.tensor(labels[:400])
    val = torch.tensor(inputs[400:], dtype=torch.float32), torch.tensor(labels[400:])
    reference = LogisticRegression(max_iter=300).fit(inputs[:400], labels[:400]).score(inputs[400:], labels[400:])
    assert linear_accuracy(train, val, 4) == pytest.approx(reference, abs=0.03)
    assert majority_accuracy(train[1], val[1]) == pytest.approx(
        float(np.mean(labels[400:] == np.bincount(labels[:400]).argmax()))
    )


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_an_image_grid_tiles_any_channel_count_in_one_picture(channels: int):
    plt = pyplot()
    figure, axis = plt.subplots()
    image_grid(axis, np.random.default_rng(0).standard_normal((5, channels, 6, 6)), list("abcde"), columns=3)
    (picture,) = axis.get_images()
    assert picture.get_array().shape == (2 * (6 + 2 * 1), 3 * (6 + 1), 3)
    assert [text.get_text() for text in axis.texts] == list("abcde")
    plt.close(figure)


def budget(losses: list[float], real: dict[str, float], zeroed: dict[str, float]) -> BudgetRuns:
    return BudgetRuns(len(losses), losses[0], losses, real, zeroed, 0.01, 100.0, None, "val/acc", 0.6, (0.21, 0.2))


def test_a_loss_that_halved_is_learning_in_every_row_that_reads_it():
    """The noisy, small case: the loss averaged over ten steps halved before the end, which ended just above half;
    the rows on learning and on the planned run's length read the same run the same way."""
    losses = [1.6] * 10 + [0.78] * 120 + [0.81] * 20  # averaged, halved by step 20; ended at 0.81 (> 0.8)
    real, zeroed = accuracy(0.35, samples=88) | {"train/loss": 0.81}, accuracy(0.17, 88) | {"train/loss": 1.6}
    runs = budget(losses, real, zeroed)
    assert decreasing_loss(runs).status == PASS
    assert steps_to_halve(runs) == 20  # what "planned run long enough" reports


@pytest.mark.parametrize(("real", "status"), [(0.45, PASS), (0.30, WARN), (0.19, FAIL)])
def test_too_few_validation_samples_to_decide_is_a_warn_not_a_fail(real: float, status: str):
    """88 validation samples: 3 SE of the difference is ~0.19. Clearly above: PASS; above by more than one SE but
    less than three: WARN, naming the validation set's SE; within one SE: FAIL."""
    runs = budget([1.6] * 150, accuracy(real, 88) | {"train/loss": 1.2}, accuracy(0.17, 88) | {"train/loss": 1.6})
    result = input_independent_baseline(runs)
    assert result.status == status
    if status == WARN:
        assert result.meaning.startswith("too few validation samples to decide (val/acc SE ")
    slow = decreasing_loss(runs)  # fell 1.6 -> 1.2 without halving: slow when the inputs count for something
    assert slow.status == (FAIL if status == FAIL else WARN)


def test_a_data_file_changed_on_disk_is_not_the_data_a_recorded_preflight_checked(tmp_path):
    """The same config on a CSV whose rows changed since (a column shuffled, rows added) runs the checks again."""
    table = write_csv(tmp_path / "table.csv", rows=40)
    config = compose_config(["data=csv", f"data.path={table}", "data.label_column=species"])
    before = preflight_fingerprint(config)
    assert preflight_fingerprint(config) == before
    table.write_text(table.read_text() + table.read_text().splitlines()[1] + "\n")
    assert preflight_fingerprint(config) != before
