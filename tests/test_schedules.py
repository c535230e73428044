"""Schedules are defined on the fraction of optimiser steps: the data-set size and epoch count do not change them."""

import math

import pytest
import torch
from helpers import default_spec, trainer_settings

from sweepwise.console import SilentProgress
from sweepwise.data.synthetic import make_synthetic
from sweepwise.errors import ConfigError
from sweepwise.models import Linear
from sweepwise.schedules import Constant, Cosine, Step
from sweepwise.schedules import Linear as LinearSchedule
from sweepwise.tasks import Classification
from sweepwise.training.loop import Trainer
from sweepwise.training.runtime import autocast_for


class LearningRates(SilentProgress):
    def __init__(self) -> None:
        self.rates: list[float] = []

    def advance(self, step, loss, lr) -> None:
        self.rates.append(lr)


def learning_rates(schedule, num_samples: int, epochs: int, batch_size: int = 32) -> list[float]:
    data = make_synthetic(num_samples=num_samples, num_classes=2, shape=[4], val_fraction=0.2)
    model = Linear(data.input_shape, 2)
    recorder = LearningRates()
    trainer = Trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        schedule,
        data,
        Classification(),
        trainer_settings(epochs=epochs, batch_size=batch_size),
        default_spec().objective,
        autocast_for(torch.device("cpu"), "fp32"),
        recorder,
    )
    trainer.fit()
    return recorder.rates


@pytest.mark.parametrize(
    "schedule",
    [Cosine(warmup_fraction=0.1), LinearSchedule(warmup_fraction=0.05), Step(milestones=[0.5, 0.75])],
)
def test_same_total_steps_give_the_same_learning_rates_whatever_the_epoch_count(schedule):
    # 1280 training samples x 2 epochs and 320 x 8 epochs are both 80 steps of 32
    few_long_epochs = learning_rates(schedule, num_samples=1600, epochs=2)
    many_short_epochs = learning_rates(schedule, num_samples=400, epochs=8)
    assert len(few_long_epochs) == len(many_short_epochs) == 80
    assert few_long_epochs == pytest.approx(many_short_epochs, abs=1e-12)


@pytest.mark.parametrize("schedule", [Cosine(warmup_fraction=0.1), LinearSchedule(), Step(milestones=[0.5])])
def test_the_same_fraction_of_training_gives_the_same_learning_rate_whatever_the_data_size(schedule):
    for num_samples, steps in [(400, 40), (1600, 160)]:
        rates = learning_rates(schedule, num_samples=num_samples, epochs=4)
        expected = [0.1 * schedule((step + 0.5) / steps) for step in range(steps)]
        assert rates == pytest.approx(expected, abs=1e-12)
    halfway = [learning_rates(Step(milestones=[0.5]), n, epochs=4) for n in (400, 1600)]
    assert [rates.index(min(rates)) / len(rates) for rates in halfway] == [0.5, 0.5]


def test_schedule_shapes():
    cosine = Cosine(warmup_fraction=0.1, final_ratio=0.1)
    assert cosine(0.05) == pytest.approx(0.5)
    assert cosine(0.1) == pytest.approx(1.0)
    assert cosine(0.55) == pytest.approx(0.55)
    assert cosine(1.0) == pytest.approx(0.1)
    assert LinearSchedule()(0.25) == pytest.approx(0.75)
    assert Step(milestones=[0.5, 0.75], gamma=0.1)(0.8) == pytest.approx(0.01)
    assert Constant()(0.9) == 1.0
    assert math.isclose(Step(milestones=[0.5])(0.49), 1.0)


def test_fractions_outside_training_are_rejected():
    with pytest.raises(ConfigError, match="schedule.warmup_fraction=1.5"):
        Cosine(warmup_fraction=1.5)
    with pytest.raises(ConfigError, match="schedule.milestones=2"):
        Step(milestones=[0.5, 2])
