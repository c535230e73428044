"""The raw samples of a data config, for inspection: every one decoded, problems kept instead of raised.

Image folders are decoded file by file (a corrupt file is reported with its path, not a crash), CSV files read
with their NaNs (reported by line); other data sets come from their DataModule, with its normalisation undone.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from sweepwise import configure
from sweepwise.data.image_folder import decode_image, find_samples, load_image_folder, target_size
from sweepwise.data.module import TensorData
from sweepwise.data.split import split_indices
from sweepwise.data.tabular_csv import load_csv, read_table
from sweepwise.data.targets import class_labels
from sweepwise.errors import DataError


@dataclass
class Samples:
    """Decoded samples of the train and validation parts, with names to point at each one."""

    class_names: list[str]
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    train_names: list[str]
    val_names: list[str]
    corrupt: list[str] = field(default_factory=list)  # "<name>: <why>" of samples that could not be decoded

    @property
    def is_image(self) -> bool:
        return self.train_x.ndim == 4


def load_samples(cfg: DictConfig) -> Samples:
    target = str(cfg.data.get("_target_", ""))
    if target.endswith(load_image_folder.__name__):
        return _image_folder_samples(cfg.data)
    if target.endswith(load_csv.__name__):
        return _table_samples(cfg.data)
    data = configure.build(cfg.data, "data")
    if not isinstance(data, TensorData):
        raise DataError(f"inspection reads image folders and in-memory data sets, not {type(data).__name__}")
    raw = (data.train_x.numpy() * data.std + data.mean, data.val_x.numpy() * data.std + data.mean)
    return Samples(
        data.class_names,
        raw[0],
        data.train_y.numpy(),
        raw[1],
        data.val_y.numpy(),
        [f"train[{index}]" for index in range(data.num_train)],
        [f"val[{index}]" for index in range(data.num_val)],
    )


def _split(data: DictConfig, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The loaders' own split of `count` samples."""
    return split_indices(count, float(data.get("val_fraction", 0.2)), int(data.get("split_seed", 0)))


def _table_samples(data: DictConfig) -> Samples:
    """A CSV's rows, NaNs included (its loader would refuse them), named by their line in the file."""
    column = str(data.label_column)
    features, table = read_table(str(data.path), [column], data.get("feature_columns"), missing_features=True)
    labels, class_names = class_labels(table[column], column)
    train, val = _split(data, len(labels))
    return Samples(
        class_names,
        features[train],
        labels[train],
        features[val],
        labels[val],
        [f"line {index + 2}" for index in train],  # the header is line 1
        [f"line {index + 2}" for index in val],
    )


def _image_folder_samples(data: DictConfig) -> Samples:
    root = Path(str(data.root))
    class_names, files = find_samples(root)
    channels = int(data.get("channels", 3))
    size = target_size(data.get("image_size"), files[0][0], channels)
    decoded, corrupt = [], []
    for path, label in files:
        try:
            decoded.append((decode_image(path, size, channels), label, str(path.relative_to(root))))
        except DataError as error:
            corrupt.append(str(error))
    train_index, val_index = _split(data, len(decoded))

    def part(index: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
        chosen = [decoded[i] for i in index]
        return np.stack([c[0] for c in chosen]), np.array([c[1] for c in chosen]), [c[2] for c in chosen]

    (train_x, train_y, train_names), (val_x, val_y, val_names) = part(train_index), part(val_index)
    return Samples(class_names, train_x, train_y, val_x, val_y, train_names, val_names, corrupt)
