"""Data: deterministic splits, train-only normalisation, batching by index, and every loader on real files."""

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import write_csv, write_image_folder

from sweepwise.data.augment import Augment
from sweepwise.data.digits import load_digits
from sweepwise.data.image_folder import load_image_folder
from sweepwise.data.module import TensorData
from sweepwise.data.split import split_indices
from sweepwise.data.synthetic import make_synthetic
from sweepwise.data.tabular_csv import load_csv
from sweepwise.errors import ConfigError, DataError


def test_split_is_deterministic_disjoint_and_complete():
    train_a, val_a = split_indices(100, 0.2, seed=3)
    train_b, val_b = split_indices(100, 0.2, seed=3)
    _, val_other = split_indices(100, 0.2, seed=4)
    assert np.array_equal(train_a, train_b) and np.array_equal(val_a, val_b)
    assert not np.array_equal(val_a, val_other)
    assert len(val_a) == 20 and len(train_a) == 80
    assert sorted(np.concatenate([train_a, val_a]).tolist()) == list(range(100))


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_rejects_fraction_outside_open_interval(fraction):
    with pytest.raises(ConfigError, match="data.val_fraction"):
        split_indices(100, fraction, seed=0)


def test_digits_split_matches_sklearn_and_is_normalised_with_train_statistics_only():
    data = load_digits(val_fraction=0.25, split_seed=1)
    assert data.num_classes == 10 and data.input_shape == (1, 8, 8)
    assert data.num_train + data.num_val == 1797 and data.num_val == round(1797 * 0.25)
    train_mean = data.train_x.mean().item()
    assert abs(train_mean) < 1e-4 and abs(data.train_x.std().item() - 1) < 1e-2
    # validation uses the training statistics, so its own mean is not forced to zero
    assert data.val_x.mean().item() != pytest.approx(0.0, abs=1e-6)


def test_normalisation_ignores_validation_values():
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((200, 3)).astype(np.float32)
    labels = rng.integers(0, 2, 200)
    train_index, val_index = split_indices(200, 0.3, seed=0)
    shifted = inputs.copy()
    shifted[val_index] += 1000.0
    plain = TensorData.from_arrays(inputs, labels, ["a", "b"], val_fraction=0.3, split_seed=0, augment=Augment())
    moved = TensorData.from_arrays(shifted, labels, ["a", "b"], val_fraction=0.3, split_seed=0, augment=Augment())
    assert np.allclose(plain.mean, moved.mean) and np.allclose(plain.std, moved.std)
    expected = (inputs[train_index] - inputs[train_index].mean(0)) / inputs[train_index].std(0)
    assert torch.allclose(plain.train_x, torch.from_numpy(expected), atol=1e-5)


def test_tensor_batches_cover_each_sample_once_per_epoch_in_a_seeded_order():
    data = make_synthetic(num_samples=100, num_classes=3, shape=[4], val_fraction=0.2)
    epoch1 = torch.cat([y for _, y in data.train_batches(16, epoch=1, seed=0)])
    again = torch.cat([y for _, y in data.train_batches(16, epoch=1, seed=0)])
    epoch2 = torch.cat([x[:, 0] for x, _ in data.train_batches(16, epoch=2, seed=0)])
    epoch1_x = torch.cat([x[:, 0] for x, _ in data.train_batches(16, epoch=1, seed=0)])
    assert torch.equal(epoch1, again)
    assert len(epoch1) == 80 // 16 * 16
    assert not torch.equal(epoch1_x, epoch2)
    rows = torch.cat([x for x, _ in data.train_batches(80, epoch=1, seed=0)])
    assert len({tuple(row.tolist()) for row in rows}) == 80  # a full-size batch holds every sample once
    assert sum(len(y) for _, y in data.val_batches(7)) == data.num_val


def test_synthetic_image_and_tabular_shapes_and_learnable_signal():
    images = make_synthetic(num_samples=300, num_classes=5, shape=[3, 6, 6], noise=0.1)
    table = make_synthetic(num_samples=300, num_classes=2, shape=[7])
    assert images.input_shape == (3, 6, 6) and images.num_classes == 5 and images.is_image
    assert table.input_shape == (7,) and not table.is_image
    # with little noise, nearest class mean classifies the validation set almost perfectly
    means = torch.stack([images.train_x[images.train_y == c].mean(0) for c in range(5)])
    distances = ((images.val_x[:, None] - means[None]) ** 2).flatten(2).sum(-1)
    assert (distances.argmin(1) == images.val_y).float().mean() > 0.95


def test_synthetic_rejects_bad_sizes():
    with pytest.raises(ConfigError, match="data.num_classes"):
        make_synthetic(num_classes=1)
    with pytest.raises(ConfigError, match="data.shape"):
        make_synthetic(shape=[2, 3])


def test_samples_with_nan_or_out_of_range_labels_are_rejected():
    inputs = np.zeros((10, 2), np.float32)
    inputs[4, 1] = np.nan
    with pytest.raises(DataError, match=r"indices \[4\]"):
        TensorData.from_arrays(inputs, np.zeros(10, int), ["a", "b"], val_fraction=0.2, split_seed=0, augment=Augment())
    labels = np.zeros(10, int)
    labels[7] = 5
    with pytest.raises(DataError, match=r"outside \[0, 2\).*\[7\]"):
        TensorData.from_arrays(
            np.zeros((10, 2), np.float32),
            labels,
            ["a", "b"],
            val_fraction=0.2,
            split_seed=0,
            augment=Augment(),
        )


def test_image_folder_streams_resized_normalised_batches(tmp_path: Path):
    root = write_image_folder(tmp_path / "images", ["cat", "dog", "eel"], per_class=10, size=10)
    data = load_image_folder(str(root), image_size=8, channels=3, val_fraction=0.3, num_workers=1)
    assert data.class_names == ["cat", "dog", "eel"] and data.input_shape == (3, 8, 8)
    assert data.num_train + data.num_val == 30
    batches = list(data.train_batches(4, epoch=1, seed=0))
    assert len(batches) == data.num_train // 4 and batches[0][0].shape == (4, 3, 8, 8)
    again = list(data.train_batches(4, epoch=1, seed=0))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(batches, again, strict=True))
    train_pixels = torch.cat([x for x, _ in data.train_batches(1, epoch=1, seed=0)])
    assert train_pixels.mean(dim=(0, 2, 3)).abs().max() < 1e-4  # per-channel mean 0 over the training split
    assert sum(len(y) for _, y in data.val_batches(5)) == data.num_val


def test_image_folder_without_resize_requires_one_size(tmp_path: Path):
    root = write_image_folder(tmp_path / "images", ["a", "b"], per_class=3, size=10)
    write_image_folder(tmp_path / "other", ["a"], per_class=1, size=12)
    (tmp_path / "other" / "a" / "0.png").rename(root / "a" / "big.png")
    with pytest.raises(DataError, match=r"big.png: size \(12, 12\).*data.image_size"):
        load_image_folder(str(root), num_workers=0)


def test_image_folder_reports_a_corrupt_file_by_path(tmp_path: Path):
    root = write_image_folder(tmp_path / "images", ["a", "b"], per_class=3, size=8)
    (root / "b" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png: cannot decode"):
        load_image_folder(str(root), num_workers=0)


def test_image_folder_with_one_class_or_missing_root_is_a_config_error(tmp_path: Path):
    root = write_image_folder(tmp_path / "images", ["only"], per_class=3)
    with pytest.raises(ConfigError, match=r"data.root=.*1 class folder\(s\) with images \(only\)"):
        load_image_folder(str(root))
    with pytest.raises(ConfigError, match="data.root=.*does not exist"):
        load_image_folder(str(tmp_path / "missing"))


def test_csv_loads_features_and_string_labels(tmp_path: Path):
    data = load_csv(str(write_csv(tmp_path / "t.csv", rows=100)), label_column="species", val_fraction=0.2)
    assert data.class_names == ["a", "b", "c"] and data.input_shape == (3,)
    assert data.num_train == 80 and data.num_val == 20
    assert abs(data.train_x.mean(0)).max() < 1e-5


def test_csv_errors_name_the_column(tmp_path: Path):
    path = write_csv(tmp_path / "t.csv", rows=20)
    with pytest.raises(ConfigError, match=r"data.label_column='target'.*columns: f1, f2, f3, species"):
        load_csv(str(path), label_column="target")
    text = path.read_text().replace("0.", "x.", 1)
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(ConfigError, match="data.feature_columns='f1': holds non-numeric"):
        load_csv(str(tmp_path / "bad.csv"), label_column="species")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"label_column": "species", "feature_columns": ["f1", "species"]},
         r"^data.feature_columns=\['f1', 'species'\]: includes the label column 'species'$"),
        ({"label_column": ["f1", "f1"], "task": "regression"},
         r"^data.label_column=\['f1', 'f1'\]: names 'f1' more than once$"),
        ({"label_column": [], "task": "regression"}, r"^data.label_column=\[\]: names no column$"),
        ({"label_column": "species", "feature_columns": []}, r"^data.feature_columns=\[\]: names no column$"),
        ({"label_column": "flat", "task": "regression", "feature_columns": ["f1", "f2"]},
         r"^data.label_column='flat': holds a single value \(7\): nothing to predict$"),
    ],
    ids=["label-among-features", "label-twice", "no-label", "no-feature", "constant-target"],
)  # fmt: skip
def test_csv_columns_that_cannot_be_meant_stop_in_one_line(tmp_path: Path, arguments: dict, expected: str):
    path = write_csv(tmp_path / "t.csv", rows=20)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",flat", *(line + ",7" for line in lines[1:])]) + "\n")
    with pytest.raises(ConfigError, match=expected):
        load_csv(str(path), **arguments)


def test_a_missing_feature_value_names_its_file_column_and_line(tmp_path: Path):
    path = write_csv(tmp_path / "t.csv", rows=20)
    lines = path.read_text().splitlines()
    lines[4] = "," + lines[4].split(",", 1)[1]  # line 5 of the file: f1 left empty
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"t.csv: missing values in feature column 'f1', e.g. on lines \[5\]$"):
        load_csv(str(path), label_column="species")
    for infinite in ("inf", "-inf"):  # as pandas reads them: numbers, not missing
        lines[4] = infinite + lines[4]
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(DataError, match=r"t.csv: infinite values in feature column 'f1', e.g. on lines \[5\]$"):
            load_csv(str(path), label_column="species")
        lines[4] = lines[4].removeprefix(infinite)


def test_augment_shifts_and_noises_only_when_enabled():
    images = torch.zeros(8, 1, 8, 8)
    images[:, :, 3:5, 3:5] = 1.0
    assert not Augment().active
    shifted = Augment(max_shift=0.25)(images)
    assert shifted.shape == images.shape and not torch.equal(shifted, images)
    assert shifted.sum().item() == pytest.approx(images.sum().item(), rel=0.35)
    with pytest.raises(ConfigError, match="data.augment.max_shift"):
        Augment(max_shift=1.5)
