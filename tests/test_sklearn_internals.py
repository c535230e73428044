"""`sweepwise.internals.sklearn_internals` against scikit-learn's public loaders: the same digits (images,
targets, class names) and diabetes data (raw features, targets), values and dtypes, read without importing
scikit-learn; and the public loaders where the files are not found."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits

from sweepwise.internals import sklearn_internals


def assert_same(mine_all: tuple[np.ndarray, ...], theirs_all: tuple[np.ndarray, ...]) -> None:
    for mine, theirs in zip(mine_all, theirs_all, strict=True):
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        np.testing.assert_array_equal(mine, theirs)


def assert_same_as_public() -> None:
    digits, diabetes = load_digits(), load_diabetes(scaled=False)
    assert_same(sklearn_internals.load_digits(), (digits.images, digits.target, digits.target_names))
    assert_same(sklearn_internals.load_diabetes(), (diabetes.data, diabetes.target))


def test_the_files_read_hold_what_the_public_loaders_return():
    for name in (sklearn_internals.DIGITS_FILE, *sklearn_internals.DIABETES_FILES):
        assert sklearn_internals.bundled_file(name) is not None  # the fast path is the one under test
    assert_same_as_public()


def test_without_the_files_the_public_loaders_answer(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sklearn_internals, "bundled_file", lambda name: None)
    assert_same_as_public()


@pytest.mark.parametrize("loader", ["digits.load_digits", "diabetes.load_diabetes"])
def test_the_bundled_data_loads_without_importing_scikit_learn(loader: str):
    module, function = loader.split(".")
    probe = f"import sys; from sweepwise.data.{module} import {function}; {function}(); print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-W", "error", "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
