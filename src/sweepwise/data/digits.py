"""scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes): the default, offline data set."""

from typing import Any

import numpy as np

from sweepwise.data.augment import make_augment
from sweepwise.data.module import TensorData
from sweepwise.internals import sklearn_internals


def load_digits(val_fraction: float = 0.2, split_seed: int = 0, augment: dict[str, Any] | None = None) -> TensorData:
    """Images as (N, 1, 8, 8) float pixels in [0, 16]; normalised with the training split's statistics."""
    images, targets, names = sklearn_internals.load_digits()
    return TensorData.from_arrays(
        images[:, None, :, :].astype(np.float32),
        targets.astype(np.int64),
        [str(name) for name in names],
        val_fraction=val_fraction,
        split_seed=split_seed,
        augment=make_augment(augment),
    )
