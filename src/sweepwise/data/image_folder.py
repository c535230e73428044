"""A directory of class sub-folders holding PNG/JPEG images, decoded by DataLoader workers."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from sweepwise.data.augment import make_augment
from sweepwise.data.module import StreamingData
from sweepwise.data.split import split_indices
from sweepwise.errors import ConfigError, DataError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"})


class ImageFiles(Dataset[tuple[torch.Tensor, int]]):
    """(path, label) pairs decoded to normalised (C, H, W) float tensors of one size."""

    def __init__(
        self,
        samples: Sequence[tuple[Path, int]],
        size: tuple[int, int],
        channels: int,
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
    ) -> None:
        self.samples, self.size, self.channels = list(samples), size, channels
        self.mean = np.zeros((channels, 1, 1), np.float32) if mean is None else mean
        self.std = np.ones((channels, 1, 1), np.float32) if std is None else std

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        pixels = decode_image(path, self.size, self.channels)
        return torch.from_numpy((pixels - self.mean) / self.std), label


def decode_image(path: Path, size: tuple[int, int] | None, channels: int) -> np.ndarray:
    """Pixels of one file as (C, H, W) float32 in [0, 1], resized to `size` (height, width) when given."""
    image: Image.Image
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DataError(f"{path}: cannot decode image ({error})") from error
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def find_samples(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class names (sorted folder names) and every image file below them with its class index."""
    folders = {
        folder.name: sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        for folder in sorted(root.iterdir())
        if folder.is_dir()
    }
    class_names = [name for name, files in folders.items() if files]
    if len(class_names) < 2:
        raise ConfigError(
            "data.root",
            str(root),
            f"has {len(class_names)} class folder(s) with images ({', '.join(class_names) or 'none'}); need at least 2",
        )
    samples = [(path, label) for label, name in enumerate(class_names) for path in folders[name]]
    return class_names, samples


def pixel_stats(dataset: ImageFiles, num_workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over every pixel of `dataset`, computed in one pass."""
    total = np.zeros(dataset.channels, np.float64)
    squares = np.zeros(dataset.channels, np.float64)
    count = 0
    for images, _ in DataLoader(dataset, batch_size=256, num_workers=num_workers):
        flat = images.double().transpose(0, 1).reshape(dataset.channels, -1)
        total += flat.sum(dim=1).numpy()
        squares += (flat**2).sum(dim=1).numpy()
        count += flat.shape[1]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    shape = (dataset.channels, 1, 1)
    return mean.astype(np.float32).reshape(shape), np.where(std > 1e-8, std, 1.0).astype(np.float32).reshape(shape)


def load_image_folder(
    root: str,
    image_size: int | Sequence[int] | None = None,
    channels: int = 3,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    num_workers: int = 2,
    augment: dict[str, Any] | None = None,
) -> StreamingData:
    """`image_size` (an int or [height, width]) resizes every image; without it all images must share one size."""
    folder = Path(root)
    if not folder.is_dir():
        raise ConfigError("data.root", root, "directory does not exist")
    if channels not in (1, 3):
        raise ConfigError("data.channels", channels, "must be 1 (grey) or 3 (RGB)")
    class_names, samples = find_samples(folder)
    size = target_size(image_size, samples[0][0], channels)
    train_index, val_index = split_indices(len(samples), val_fraction, split_seed)
    train_samples = [samples[i] for i in train_index]
    val_samples = [samples[i] for i in val_index]
    _check_sizes(samples, size, resized=image_size is not None)
    mean, std = pixel_stats(ImageFiles(train_samples, size, channels), num_workers)
    return StreamingData(
        ImageFiles(train_samples, size, channels, mean, std),
        ImageFiles(val_samples, size, channels, mean, std),
        class_names=class_names,
        input_shape=(channels, *size),
        mean=mean,
        std=std,
        augment=make_augment(augment),
        num_workers=num_workers,
    )


def target_size(image_size: int | Sequence[int] | None, first: Path, channels: int) -> tuple[int, int]:
    if image_size is None:
        height, width = decode_image(first, None, channels).shape[1:]
        return int(height), int(width)
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or min(size) < 1:
        raise ConfigError("data.image_size", image_size, "must be a positive int or [height, width]")
    return int(size[0]), int(size[1])


def _check_sizes(samples: list[tuple[Path, int]], size: tuple[int, int], resized: bool) -> None:
    """Without resizing, every image must have the size of the first (checked from headers, not pixels)."""
    if resized:
        return
    for path, _ in samples:
        try:
            with Image.open(path) as image:
                found = (image.height, image.width)
        except (UnidentifiedImageError, OSError) as error:
            raise DataError(f"{path}: cannot decode image ({error})") from error
        if found != size:
            raise DataError(f"{path}: size {found} differs from {size}; set data.image_size to resize all images")
