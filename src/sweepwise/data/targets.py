"""What a data set's targets are: class labels, or numbers standardised with training statistics.

A column of numbers can be either. Read as classes, a numeric target with hundreds of distinct values becomes a
classifier with hundreds of classes, which trains without complaint and learns nothing: such a column is refused
under classification, with the count and the task that fits it.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sweepwise.errors import ConfigError, DataError

MAX_CLASSES = 100  # more distinct numeric labels than this is a numeric target, whatever the rows
MAX_CLASS_SHARE = 0.1  # ... as is more distinct numeric labels than this share of the rows
FEW_CLASSES = 20  # ... unless there are this few (a small table of a dozen classes is still classes)
CLASSIFICATION, REGRESSION = "classification", "regression"


@dataclass(frozen=True)
class TargetScale:
    """The training targets' mean and standard deviation per target column: a regression trains on standardised
    targets and reports its errors in the targets' own units."""

    names: list[str]
    mean: np.ndarray  # (targets,)
    std: np.ndarray  # (targets,)

    @classmethod
    def of(cls, names: Sequence[str], train_targets: np.ndarray) -> "TargetScale":
        std = train_targets.std(axis=0)
        return cls([str(name) for name in names], train_targets.mean(axis=0), np.where(std > 1e-12, std, 1.0))

    def standardise(self, targets: np.ndarray) -> np.ndarray:
        standardised: np.ndarray = ((targets - self.mean) / self.std).astype(np.float32)
        return standardised


def class_labels(values: np.ndarray, column: str) -> tuple[np.ndarray, list[str]]:
    """Labels numbered by their sorted values, and the values as class names. A numeric column with more distinct
    values than a classifier can learn from its rows is refused: it is a regression target."""
    names, labels = np.unique(values, return_inverse=True)
    distinct, rows = len(names), len(values)
    numeric = np.issubdtype(values.dtype, np.number)
    if numeric and distinct > FEW_CLASSES and (distinct > MAX_CLASSES or distinct > MAX_CLASS_SHARE * rows):
        raise ConfigError(
            "data.label_column",
            column,
            f"holds {distinct} distinct numbers in {rows} rows, a numeric target: train it with task=regression "
            f"(as classes it would be a {distinct}-class classifier)",
        )
    if distinct < 2:
        raise ConfigError("data.label_column", column, f"has a single class ({names[0]!r}); need >= 2")
    return labels.astype(np.int64), [str(name) for name in names]


def numeric_targets(table: dict[str, np.ndarray], columns: Sequence[str]) -> np.ndarray:
    """The target columns as float32 (rows, targets); every value a finite number."""
    for column in columns:
        values = table[column]
        if not np.issubdtype(values.dtype, np.number):
            raise ConfigError("data.label_column", column, "holds non-numeric values: a regression needs numbers")
    targets = np.stack([table[column].astype(np.float64) for column in columns], axis=1)
    bad = np.flatnonzero(~np.isfinite(targets).all(axis=1))
    if bad.size:
        lines = (bad[:5] + 2).tolist()  # the header is line 1
        raise DataError(f"{bad.size} rows have missing or infinite targets, e.g. on lines {lines}")
    for column, values in zip(columns, targets.T, strict=True):
        if np.ptp(values) == 0.0:
            raise ConfigError("data.label_column", column, f"holds a single value ({values[0]:g}): nothing to predict")
    return targets.astype(np.float32)


def check_task(task: str) -> None:
    if task not in (CLASSIFICATION, REGRESSION):
        raise ConfigError("task", task, f"this data serves {CLASSIFICATION} and {REGRESSION}")
