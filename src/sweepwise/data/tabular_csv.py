"""Tabular data from a CSV file: numeric feature columns and one or more named target columns."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sweepwise.data.augment import make_augment
from sweepwise.data.module import TensorData
from sweepwise.data.targets import CLASSIFICATION, check_task, class_labels, numeric_targets
from sweepwise.errors import ConfigError, DataError


def load_csv(
    path: str,
    label_column: str | Sequence[str] = "label",
    feature_columns: Sequence[str] | None = None,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    augment: dict[str, Any] | None = None,
    task: str = CLASSIFICATION,
) -> TensorData:
    """For classification one label column of any values (sorted, then numbered); for regression one or more
    numeric target columns. Features must be numeric and complete."""
    check_task(task)
    columns = [label_column] if isinstance(label_column, str) else [str(column) for column in label_column]
    _check_listed("data.label_column", columns)
    if feature_columns is not None:
        _check_listed("data.feature_columns", [str(column) for column in feature_columns])
    if task == CLASSIFICATION and len(columns) != 1:
        raise ConfigError("data.label_column", columns, "classification takes one label column")
    features, table = read_table(path, columns, feature_columns)
    options: dict[str, Any] = {"val_fraction": val_fraction, "split_seed": split_seed, "augment": make_augment(augment)}
    if task == CLASSIFICATION:
        labels, class_names = class_labels(table[columns[0]], columns[0])
        return TensorData.from_arrays(features, labels, class_names, **options)
    return TensorData.from_targets(features, numeric_targets(table, columns), columns, **options)


def _check_listed(key: str, columns: Sequence[str]) -> None:
    """A list of columns names each column once, and at least one."""
    if not columns:
        raise ConfigError(key, list(columns), "names no column")
    repeated = sorted({column for column in columns if list(columns).count(column) > 1})
    if repeated:
        raise ConfigError(key, list(columns), f"names {', '.join(map(repr, repeated))} more than once")


def read_table(
    path: str, label_columns: Sequence[str], feature_columns: Sequence[str] | None, missing_features: bool = False
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(features as float32 rows, each label column's values) of a CSV file; missing feature values are refused
    (naming their lines), or kept as NaNs with `missing_features` (for the data report to show)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError("data.path", path, "file does not exist")
    try:
        table = pd.read_csv(file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ConfigError("data.path", path, f"not a readable CSV file ({error})") from error
    if table.empty:
        raise ConfigError("data.path", path, "has a header but no rows")
    for label_column in label_columns:
        if label_column not in table.columns:
            raise ConfigError(
                "data.label_column",
                label_column,
                f"not a column of {path} (columns: {', '.join(map(str, table.columns))})",
            )
        if table[label_column].isna().any():
            rows = np.flatnonzero(table[label_column].isna().to_numpy())[:5].tolist()
            lines = [row + 2 for row in rows]  # the header is line 1
            raise DataError(f"{path}: missing labels in column {label_column!r}, e.g. on lines {lines}")
    features = [str(c) for c in feature_columns] if feature_columns is not None else None
    features = features or [c for c in table.columns if c not in label_columns]
    for column in features:
        if column not in table.columns:
            raise ConfigError("data.feature_columns", column, f"not a column of {path}")
        if column in label_columns:
            raise ConfigError("data.feature_columns", features, f"includes the label column {column!r}")
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise ConfigError("data.feature_columns", column, f"holds non-numeric values in {path}")
        if table[column].isna().any() and not missing_features:
            lines = (np.flatnonzero(table[column].isna().to_numpy())[:5] + 2).tolist()  # the header is line 1
            raise DataError(f"{path}: missing values in feature column {column!r}, e.g. on lines {lines}")
        infinite = np.isinf(table[column].to_numpy(dtype=np.float64))
        if infinite.any():
            lines = (np.flatnonzero(infinite)[:5] + 2).tolist()
            raise DataError(f"{path}: infinite values in feature column {column!r}, e.g. on lines {lines}")
    labels = {column: table[column].to_numpy() for column in label_columns}
    return table[features].to_numpy(dtype=np.float32), labels
