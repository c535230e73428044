"""Tabular data from a CSV file: numeric feature columns and a named label column."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sweepwise.data.augment import make_augment
from sweepwise.data.module import TensorData
from sweepwise.errors import ConfigError, DataError


def load_csv(
    path: str,
    label_column: str = "label",
    feature_columns: Sequence[str] | None = None,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    augment: dict[str, Any] | None = None,
) -> TensorData:
    """Labels may be any values (sorted, then numbered); features must be numeric and complete."""
    features, labels, class_names = read_table(path, label_column, feature_columns)
    return TensorData.from_arrays(
        features,
        labels,
        class_names,
        val_fraction=val_fraction,
        split_seed=split_seed,
        augment=make_augment(augment),
    )


def read_table(
    path: str, label_column: str, feature_columns: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(features as float32 rows, labels numbered by their sorted values, class names) of a CSV file; features
    may still hold NaNs."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError("data.path", path, "file does not exist")
    try:
        table = pd.read_csv(file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ConfigError("data.path", path, f"not a readable CSV file ({error})") from error
    if table.empty:
        raise ConfigError("data.path", path, "has a header but no rows")
    if label_column not in table.columns:
        raise ConfigError(
            "data.label_column",
            label_column,
            f"not a column of {path} (columns: {', '.join(map(str, table.columns))})",
        )
    features = list(feature_columns) if feature_columns else [c for c in table.columns if c != label_column]
    for column in features:
        if column not in table.columns:
            raise ConfigError("data.feature_columns", column, f"not a column of {path}")
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise ConfigError("data.feature_columns", column, f"holds non-numeric values in {path}")
    if table[label_column].isna().any():
        rows = np.flatnonzero(table[label_column].isna().to_numpy())[:5].tolist()
        lines = [row + 2 for row in rows]  # the header is line 1
        raise DataError(f"{path}: missing labels in column {label_column!r}, e.g. on lines {lines}")
    class_names, labels = np.unique(table[label_column].to_numpy(), return_inverse=True)
    if len(class_names) < 2:
        raise ConfigError("data.label_column", label_column, f"has a single class ({class_names[0]!r}); need >= 2")
    return table[features].to_numpy(dtype=np.float32), labels.astype(np.int64), [str(name) for name in class_names]
