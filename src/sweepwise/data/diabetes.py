"""scikit-learn's bundled diabetes data (442 patients, 10 numeric features, a disease-progression score a year
later): the offline regression data set."""

from typing import Any

from sweepwise.data.augment import make_augment
from sweepwise.data.module import TensorData
from sweepwise.internals import sklearn_internals

TARGET_NAME = "progression"


def load_diabetes(val_fraction: float = 0.2, split_seed: int = 0, augment: dict[str, Any] | None = None) -> TensorData:
    """The raw features (age in years, bmi, blood pressure, ...), normalised with the training split's statistics
    as every table is; the target in its own units (25 to 346)."""
    features, target = sklearn_internals.load_diabetes()
    return TensorData.from_targets(
        features,
        target[:, None],
        [TARGET_NAME],
        val_fraction=val_fraction,
        split_seed=split_seed,
        augment=make_augment(augment),
    )
