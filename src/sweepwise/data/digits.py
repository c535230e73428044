"""scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes): the default, offline data set."""

from typing import Any

import numpy as np
from sklearn.datasets import load_digits as sklearn_digits

from sweepwise.data.augment import make_augment
from sweepwise.data.module import TensorData


def load_digits(val_fraction: float = 0.2, split_seed: int = 0, augment: dict[str, Any] | None = None) -> TensorData:
    """Images as (N, 1, 8, 8) float pixels in [0, 16]; normalised with the training split's statistics."""
    bunch = sklearn_digits()
    images = bunch.images[:, None, :, :].astype(np.float32)
    return TensorData.from_arrays(
        images,
        bunch.target.astype(np.int64),
        [str(name) for name in bunch.target_names],
        val_fraction=val_fraction,
        split_seed=split_seed,
        augment=make_augment(augment),
    )
