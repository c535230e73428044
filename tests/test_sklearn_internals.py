"""`sweepwise.internals.sklearn_internals` against scikit-learn's public `load_digits`: the same images, targets
and class names, values and dtypes, read without importing scikit-learn; and the public loader where the file is
not found."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sweepwise.internals import sklearn_internals


def assert_same_as_public(loaded: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    public = load_digits()
    for mine, theirs in zip(loaded, (public.images, public.target, public.target_names), strict=True):
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        np.testing.assert_array_equal(mine, theirs)


def test_the_file_read_holds_what_the_public_loader_returns():
    assert sklearn_internals.digits_file() is not None  # the fast path is the one under test
    assert_same_as_public(sklearn_internals.load_digits())


def test_without_the_file_the_public_loader_answers(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sklearn_internals, "digits_file", lambda: None)
    assert_same_as_public(sklearn_internals.load_digits())


def test_the_default_data_loads_without_importing_scikit_learn():
    probe = "import sys; from sweepwise.data.digits import load_digits; load_digits(); print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-W", "error", "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
