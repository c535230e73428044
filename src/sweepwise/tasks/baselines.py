"""The tasks' dumb baselines on a pipeline's own split, for a model to beat: the most frequent class and a linear
model (softmax regression) for classification; the mean and a linear least-squares fit for regression.

The linear models are fitted here with torch rather than by scikit-learn, whose import (its base and
SciPy's statistics, about 1.5 s on 2 CPU cores) would cost the preflight more than the fits."""

from collections.abc import Iterable

import torch
import torch.nn.functional as F

from sweepwise.data.module import Batch

LINEAR_MAX_ITERATIONS = 300
LINEAR_L2 = 1.0  # the inverse of scikit-learn's default C: 0.5 |W|^2 beside the summed cross-entropy
RIDGE_ALPHA = 1.0  # scikit-learn's Ridge() default penalty on the squared weights


def stacked(batches: Iterable[Batch]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every batch's inputs flattened to rows (float, on the CPU) and its labels, concatenated."""
    inputs, labels = zip(*((x.float().flatten(1).cpu(), y.cpu()) for x, y in batches), strict=True)
    return torch.cat(inputs), torch.cat(labels)


def majority_accuracy(train_labels: torch.Tensor, val_labels: torch.Tensor) -> float:
    """Validation accuracy of always answering the most frequent training class."""
    return float((val_labels == torch.bincount(train_labels).argmax()).float().mean())


def linear_accuracy(
    train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor], num_classes: int
) -> float:
    """Validation accuracy of a softmax regression on standardised inputs, L2-penalised as scikit-learn's
    `LogisticRegression()` is, fitted to convergence by L-BFGS."""
    (train_x, train_y), (val_x, val_y) = train, val
    mean, std = train_x.mean(dim=0), train_x.std(dim=0).clamp_min(1e-8)
    rows = (train_x - mean) / std
    weight = torch.zeros(rows.shape[1], num_classes, requires_grad=True)
    bias = torch.zeros(num_classes, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        max_iter=LINEAR_MAX_ITERATIONS,
        tolerance_grad=1e-4,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        value = F.cross_entropy(rows @ weight + bias, train_y) + LINEAR_L2 * weight.pow(2).sum() / (2 * len(rows))
        value.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        return value

    optimizer.step(loss)  # type: ignore[no-untyped-call]  # torch leaves LBFGS.step unannotated
    with torch.no_grad():
        predicted = ((val_x - mean) / std @ weight + bias).argmax(dim=1)
    return float((predicted == val_y).float().mean())


def r2_score(predicted: torch.Tensor, targets: torch.Tensor) -> float:
    """R^2 of `predicted` (rows, or one row for every sample) against `targets`, averaged over the targets."""
    rows = targets.double().reshape(len(targets), -1)
    errors = (predicted.double().reshape(-1, rows.shape[1]) - rows).square().mean(dim=0)
    return float((1 - errors / (rows - rows.mean(dim=0)).square().mean(dim=0).clamp_min(1e-12)).mean())


def linear_least_squares(train: tuple[torch.Tensor, torch.Tensor], val_inputs: torch.Tensor) -> torch.Tensor:
    """The predictions on `val_inputs` of a linear model fitted by least squares (a small ridge penalty, as
    scikit-learn's `Ridge()`) on standardised training inputs."""
    train_x, train_y = train
    mean, std = train_x.double().mean(dim=0), train_x.double().std(dim=0).clamp_min(1e-8)
    rows = torch.cat([(train_x.double() - mean) / std, torch.ones(len(train_x), 1, dtype=torch.float64)], dim=1)
    targets = train_y.double().reshape(len(train_y), -1)
    penalty = torch.eye(rows.shape[1], dtype=torch.float64) * RIDGE_ALPHA
    penalty[-1, -1] = 0.0  # the intercept is not penalised
    weights = torch.linalg.solve(rows.T @ rows + penalty, rows.T @ targets)
    val_rows = torch.cat([(val_inputs.double() - mean) / std, torch.ones(len(val_inputs), 1, dtype=torch.float64)], 1)
    predicted: torch.Tensor = (val_rows @ weights).float()
    return predicted
