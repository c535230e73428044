"""scikit-learn's bundled digits and diabetes data read from the files its loaders read, without importing
scikit-learn. Guarded by `tests/test_sklearn_internals.py`, which compares them with `sklearn.datasets`' own.

Importing `sklearn.datasets` loads scikit-learn's base and SciPy's statistics: about 1.5 s on 2 CPU cores, paid
by every training process on the default data and by the preflight, for a 1797-row table read in milliseconds.
The file's place inside scikit-learn is not part of its API: where it is not found, the public loader is used.
"""

import importlib.util
from pathlib import Path

import numpy as np

DATA_FOLDER = Path("datasets", "data")  # inside the installed scikit-learn package
DIGITS_FILE = "digits.csv.gz"
DIABETES_FILES = ("diabetes_data_raw.csv.gz", "diabetes_target.csv.gz")
IMAGE_SIDE = 8


def load_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images (N, 8, 8), targets (N,), class names), as `sklearn.datasets.load_digits()`'s `images`, `target` and
    `target_names`."""
    path = bundled_file(DIGITS_FILE)
    if path is None:
        from sklearn.datasets import load_digits as public_load_digits

        bunch = public_load_digits()
        return bunch.images, bunch.target, bunch.target_names
    table = np.loadtxt(path, delimiter=",")
    targets = table[:, -1].astype(int)
    return table[:, :-1].reshape(-1, IMAGE_SIDE, IMAGE_SIDE), targets, np.unique(targets)


def load_diabetes() -> tuple[np.ndarray, np.ndarray]:
    """(features (442, 10), targets (442,)), as `sklearn.datasets.load_diabetes(scaled=False)`'s `data` and
    `target`."""
    features, target = (bundled_file(name) for name in DIABETES_FILES)
    if features is None or target is None:
        from sklearn.datasets import load_diabetes as public_load_diabetes

        bunch = public_load_diabetes(scaled=False)
        return bunch.data, bunch.target
    return np.loadtxt(features), np.loadtxt(target)


def bundled_file(name: str) -> Path | None:
    """A data file of the installed scikit-learn, found without importing it; None when it is not there."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / DATA_FOLDER / name
    return path if path.is_file() else None
