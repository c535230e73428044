"""scikit-learn's bundled digits read from the file its `load_digits` reads, without importing scikit-learn.
Guarded by `tests/test_sklearn_internals.py`, which compares the images, targets and class names with
`sklearn.datasets.load_digits`'s.

Importing `sklearn.datasets` loads scikit-learn's base and SciPy's statistics: about 1.5 s on 2 CPU cores, paid
by every training process on the default data and by the preflight, for a 1797-row table read in milliseconds.
The file's place inside scikit-learn is not part of its API: where it is not found, the public loader is used.
"""

import importlib.util
from pathlib import Path

import numpy as np

DIGITS_FILE = Path("datasets", "data", "digits.csv.gz")  # inside the installed scikit-learn package
IMAGE_SIDE = 8


def load_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images (N, 8, 8), targets (N,), class names), as `sklearn.datasets.load_digits()`'s `images`, `target` and
    `target_names`."""
    path = digits_file()
    if path is None:
        from sklearn.datasets import load_digits as public_load_digits

        bunch = public_load_digits()
        return bunch.images, bunch.target, bunch.target_names
    table = np.loadtxt(path, delimiter=",")
    targets = table[:, -1].astype(int)
    return table[:, :-1].reshape(-1, IMAGE_SIDE, IMAGE_SIDE), targets, np.unique(targets)


def digits_file() -> Path | None:
    """The digits table of the installed scikit-learn, found without importing it; None when it is not there."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / DIGITS_FILE
    return path if path.is_file() else None
