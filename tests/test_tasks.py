"""The tasks in-process: regression's metrics against scikit-learn's in the target's own units, its baselines and
its bound on an input-free run, the standardisation of targets with training statistics, the refusal of a
numeric target as classes, and each task refusing the other's data."""

from contextlib import nullcontext

import numpy as np
import pytest
import torch
from helpers import compose_config
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from torch import nn

from sweepwise import configure
from sweepwise.data.augment import Augment
from sweepwise.data.module import TensorData
from sweepwise.data.synthetic_regression import make_regression
from sweepwise.data.targets import class_labels
from sweepwise.errors import ConfigError
from sweepwise.spec.schema import direction_of
from sweepwise.tasks import Classification, Regression
from sweepwise.tasks.baselines import linear_least_squares
from sweepwise.tasks.baselines import r2_score as our_r2
from sweepwise.tasks.served import raw_inputs

NO_AUGMENT = Augment()


def table(rows: int = 300, targets: int = 1, scale: float = 100.0, offset: float = 50.0) -> TensorData:
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((rows, 4)).astype(np.float32)
    values = inputs[:, :targets] * scale + offset + rng.standard_normal((rows, targets)) * scale / 3
    names = [f"y{index}" for index in range(targets)]
    return TensorData.from_targets(inputs, values, names, val_fraction=0.3, split_seed=0, augment=NO_AUGMENT)


def val_targets_in_units(data: TensorData) -> np.ndarray:
    assert data.target_scale is not None
    return data.val_y.numpy() * data.target_scale.std + data.target_scale.mean


@pytest.mark.parametrize("targets", [1, 3])
def test_regression_metrics_are_scikit_learns_in_the_targets_own_units(targets: int):
    data = table(targets=targets)
    torch.manual_seed(0)
    model = nn.Linear(4, targets)
    metrics = Regression().evaluate(model, data, batch_size=37, autocast=nullcontext)
    with torch.no_grad():
        predicted = model(data.val_x).numpy() * data.target_scale.std + data.target_scale.mean
    truth = val_targets_in_units(data)
    rmse = [mean_squared_error(truth[:, i], predicted[:, i]) ** 0.5 for i in range(targets)]
    mae = [mean_absolute_error(truth[:, i], predicted[:, i]) for i in range(targets)]
    r2 = [r2_score(truth[:, i], predicted[:, i]) for i in range(targets)]
    assert metrics["val/rmse"] == pytest.approx(np.mean(rmse), rel=1e-4)
    assert metrics["val/mae"] == pytest.approx(np.mean(mae), rel=1e-4)
    assert metrics["val/r2"] == pytest.approx(np.mean(r2), rel=1e-4, abs=1e-5)
    assert all(metrics[f"{key}_se"] > 0 for key in ("val/rmse", "val/mae", "val/r2"))
    if targets > 1:  # each target under its own name too
        assert metrics["val/rmse/y2"] == pytest.approx(rmse[2], rel=1e-4)
        assert metrics["val/r2/y0"] == pytest.approx(r2[0], rel=1e-4, abs=1e-5)


def test_targets_are_standardised_with_training_statistics_only():
    data = table(scale=1000.0, offset=-400.0)
    assert data.target_scale is not None
    assert data.train_y.dtype == torch.float32 and data.train_y.shape == (data.num_train, 1)
    assert float(data.train_y.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(data.train_y.std(correction=0)) == pytest.approx(1.0, abs=1e-4)
    assert abs(float(data.val_y.mean())) > 1e-3  # validation is scaled with training statistics, not its own


def test_the_best_input_free_prediction_scores_at_most_the_bound():
    data = table()
    bound, se = Regression().zeroed_bound(data.val_y)
    assert bound == 0.0 and se > 0
    for constant in np.linspace(-2, 2, 41):  # every constant in standardised units
        outputs = torch.full_like(data.val_y, float(constant))
        assert Regression().score_of(outputs, data.val_y, data) <= bound + 1e-9


def test_linear_baseline_agrees_with_scikit_learns_ridge():
    rng = np.random.default_rng(1)
    inputs = rng.standard_normal((400, 6)) * [1, 10, 100, 1, 1, 1]
    targets = inputs @ rng.standard_normal(6) + rng.standard_normal(400)
    mean, std = inputs[:300].mean(axis=0), inputs[:300].std(axis=0, ddof=1)
    reference = Ridge(alpha=1.0).fit((inputs[:300] - mean) / std, targets[:300]).predict((inputs[300:] - mean) / std)
    train = torch.tensor(inputs[:300]), torch.tensor(targets[:300])
    ours = linear_least_squares(train, torch.tensor(inputs[300:])).numpy()[:, 0]
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)
    assert our_r2(torch.tensor(ours), torch.tensor(targets[300:])) == pytest.approx(
        r2_score(targets[300:], reference), abs=1e-5
    )


@pytest.mark.parametrize(("noise", "best_r2"), [(0.0, 1.0), (1.0, 0.5), (1.5, 1 / 3.25)])
def test_synthetic_regression_noise_sets_the_best_r2(noise: float, best_r2: float):
    data = make_regression(num_samples=20000, num_features=5, noise=noise, scale=7.0, offset=3.0)
    baselines = Regression().baselines((data.train_x, data.train_y), (data.val_x, data.val_y))
    linear = dict((baseline.name, baseline.score) for baseline in baselines)["linear"]
    assert linear == pytest.approx(best_r2, abs=0.02)


@pytest.mark.parametrize("loss", ["mse", "l1", "huber"])
def test_each_regression_loss_is_zero_at_the_target_and_grows_away_from_it(loss: str):
    task, targets = Regression(loss=loss), torch.randn(8, 2)
    assert float(task.loss(targets, targets)) == 0.0
    assert float(task.loss(targets + 0.5, targets)) < float(task.loss(targets + 2.0, targets))


def test_a_bad_regression_loss_is_refused_naming_its_key():
    with pytest.raises(ConfigError, match=r"task\.loss='mae': must be one of mse, l1, huber"):
        Regression(loss="mae")


def test_a_numeric_label_with_hundreds_of_values_is_refused_as_classes():
    values = np.round(np.random.default_rng(0).uniform(25, 346, 442))
    with pytest.raises(ConfigError) as refused:
        class_labels(values, "progression")
    message = str(refused.value)
    assert message.startswith("data.label_column='progression': holds ")
    assert f"{len(np.unique(values))} distinct numbers in 442 rows" in message and "task=regression" in message


@pytest.mark.parametrize(
    "values",
    [
        np.repeat([0, 1, 2], 50),  # iris-like: three integer classes
        np.arange(60) % 12,  # twelve classes in sixty rows: still few enough
        np.array(["setosa", "virginica"] * 40),
    ],
)
def test_ordinary_class_labels_are_still_classes(values: np.ndarray):
    labels, names = class_labels(values, "label")
    assert len(names) == len(np.unique(values)) and labels.max() == len(names) - 1


def test_each_task_refuses_the_others_data_in_one_line():
    numbers, classes = table(), compose_config()
    with pytest.raises(ConfigError, match=r"task='classification': mine gives numeric targets \(y0\): train them"):
        Classification().check_data(numbers, "mine")
    digits = configure.build(classes.data, "data")
    with pytest.raises(ConfigError, match=r"task='regression': digits gives class labels \(10 classes\), not numeric"):
        Regression().check_data(digits, "digits")


def test_a_model_written_for_classification_alone_still_builds():
    """A model class of the user's that takes `num_classes` (as models did before tasks) gets the task's outputs
    under that name; the project's own take `num_outputs`."""
    cfg = compose_config(["task=regression", "data=diabetes", "model=mlp"])
    task = configure.build_task(cfg)
    data = configure.build_data(cfg.data, task)
    legacy = compose_config(["model._target_=planted_bugs.InputIgnoringModel", "~model.depth", "~model.dropout"])
    assert configure.build_model(legacy.model, data, task).out.out_features == 1
    assert configure.build_model(cfg.model, data, task)(data.val_x[:3]).shape == (3, 1)


def test_the_served_regression_takes_inputs_and_answers_in_the_datas_own_units():
    inputs = np.random.default_rng(1).standard_normal((300, 4)).astype(np.float32) * 50.0 + 20.0
    data = TensorData.from_targets(inputs, inputs[:, :1] * 1000.0 - 400.0, ["y0"], val_fraction=0.3, split_seed=0,
                                   augment=NO_AUGMENT)  # fmt: skip
    model = nn.Linear(4, 1)
    served = Regression().servable(model, data)
    raw = raw_inputs(data, data.val_x)
    assert float(raw.mean()) == pytest.approx(20.0, abs=5.0)  # back in the table's own units
    with torch.no_grad():
        expected = model(data.val_x) * float(data.target_scale.std[0]) + float(data.target_scale.mean[0])
        assert torch.allclose(served(raw), expected, atol=1e-4)
    assert Regression().output_names(data) == data.target_scale.names


def test_one_targets_metric_is_an_objective_only_where_that_target_exists():
    data = table(targets=2)
    task = Regression()
    task.check_metric("objective.metric", "val/rmse/y1", data)
    assert direction_of("val/rmse/y1") == "minimize" and direction_of("val/r2/y0") == "maximize"
    with pytest.raises(ConfigError, match=r"^objective.metric='val/rmse/y2': names no target: the targets are y0, y1$"):
        task.check_metric("objective.metric", "val/rmse/y2", data)
    with pytest.raises(ConfigError, match=r"^objective.metric='val/rmse/y0': task=regression reports"):
        task.check_metric("objective.metric", "val/rmse/y0", table(targets=1))  # one target: no metric of its own
