"""Data targets for the zoo: digits at 32x32, a generated 120-class image set, and scikit-learn's tables.

Each returns a `TensorData` like the project's own loaders, so a zoo pipeline goes through the same
normalisation, split and augmentation as `data=digits`.
"""

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn import datasets

from sweepwise.data.augment import make_augment
from sweepwise.data.module import TensorData

TABLES = {
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
}


def digits32(
    val_fraction: float = 0.2, split_seed: int = 0, augment: dict[str, Any] | None = None, size: int = 32
) -> TensorData:
    """scikit-learn's 8x8 digits upsampled to `size` x `size` (1 channel): big enough for the stems and patch
    embeddings of ImageNet architectures, which would shrink 8x8 to nothing."""
    bunch = datasets.load_digits()
    images = torch.from_numpy(bunch.images[:, None, :, :].astype(np.float32))
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return TensorData.from_arrays(
        images.numpy(),
        bunch.target.astype(np.int64),
        [str(name) for name in bunch.target_names],
        val_fraction=val_fraction,
        split_seed=split_seed,
        augment=make_augment(augment),
    )


def prototypes(
    num_classes: int = 120,
    per_class: int = 30,
    size: int = 32,
    channels: int = 3,
    noise: float = 0.6,
    max_shift: int = 3,
    seed: int = 0,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    augment: dict[str, Any] | None = None,
) -> TensorData:
    """A harder, many-class image set: each class a smooth random colour pattern, each sample that pattern
    randomly shifted, rescaled in contrast and noised. Learnable, but far from chance only after real training,
    which is what stresses checks that judge a short run against chance (ln 120 ~ 4.8)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(num_classes, channels, 4, 4, generator=generator)
    patterns = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    images = patterns[labels].clone()
    shifts = torch.randint(-max_shift, max_shift + 1, (len(labels), 2), generator=generator)
    for index, (dy, dx) in enumerate(shifts.tolist()):
        images[index] = torch.roll(images[index], shifts=(dy, dx), dims=(1, 2))
    contrast = 0.7 + 0.6 * torch.rand(len(labels), 1, 1, 1, generator=generator)
    images = images * contrast + noise * torch.randn(images.shape, generator=generator)
    return TensorData.from_arrays(
        images.numpy().astype(np.float32),
        labels.numpy().astype(np.int64),
        [f"class{index:03d}" for index in range(num_classes)],
        val_fraction=val_fraction,
        split_seed=split_seed,
        augment=make_augment(augment),
    )


def table(
    name: str, val_fraction: float = 0.2, split_seed: int = 0, augment: dict[str, Any] | None = None
) -> TensorData:
    """One of scikit-learn's bundled tabular sets (iris, wine, breast_cancer) as (N, features) floats."""
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; one of {sorted(TABLES)}")
    bunch = TABLES[name]()
    return TensorData.from_arrays(
        bunch.data.astype(np.float32),
        bunch.target.astype(np.int64),
        [str(label) for label in bunch.target_names],
        val_fraction=val_fraction,
        split_seed=split_seed,
        augment=make_augment(augment),
    )


def diabetes_bands(
    bands: int = 5, val_fraction: float = 0.2, split_seed: int = 0, augment: dict[str, Any] | None = None
) -> TensorData:
    """scikit-learn's diabetes with its target binned into `bands` equally full classes: small (442 rows) and
    noisy (a best accuracy near 0.4 for 5 bands), but valid."""
    from sweepwise.internals.sklearn_internals import load_diabetes

    features, target = load_diabetes()
    labels = np.digitize(target, np.quantile(target, np.linspace(0, 1, bands + 1)[1:-1]))
    return TensorData.from_arrays(
        features.astype(np.float32),
        labels.astype(np.int64),
        [f"band{index}" for index in range(bands)],
        val_fraction=val_fraction,
        split_seed=split_seed,
        augment=make_augment(augment),
    )
