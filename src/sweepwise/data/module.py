"""DataModule: the one interface the training loop sees, with an in-memory and a streaming implementation."""

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from sweepwise.data.augment import Augment
from sweepwise.data.split import channel_stats, split_indices
from sweepwise.data.targets import TargetScale
from sweepwise.errors import ConfigError, DataError

Batch = tuple[torch.Tensor, torch.Tensor]


def epoch_permutation(num_samples: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffling order of one epoch: a function of (seed, epoch) only, so a resumed run sees the same order."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(num_samples, generator=generator)


def check_samples(inputs: np.ndarray, labels: np.ndarray, num_classes: int | None) -> None:
    """Reject non-finite inputs and labels outside [0, num_classes) (for numeric targets, `num_classes` None:
    non-finite ones), naming the first offending indices."""
    if num_classes is None:
        bad_targets = np.flatnonzero(~np.isfinite(labels.reshape(len(labels), -1)).all(axis=1))
        if bad_targets.size:
            raise DataError(f"{bad_targets.size} targets are NaN or infinite, e.g. indices {bad_targets[:5].tolist()}")
        num_classes = 0
    elif num_classes < 2:
        raise DataError(f"a classification task needs at least 2 classes, found {num_classes}")
    bad_inputs = np.flatnonzero(~np.isfinite(inputs.reshape(len(inputs), -1)).all(axis=1))
    if bad_inputs.size:
        raise DataError(
            f"{bad_inputs.size} samples have NaN or infinite inputs, e.g. indices {bad_inputs[:5].tolist()}"
        )
    bad_labels = np.flatnonzero((labels < 0) | (labels >= num_classes)) if num_classes else np.array([])
    if bad_labels.size:
        raise DataError(
            f"{bad_labels.size} labels are outside [0, {num_classes}), e.g. indices {bad_labels[:5].tolist()}"
        )


class DataModule(ABC):
    """Train/validation data, normalised with statistics of the training part. Its targets are class labels
    (`class_names`), or numbers standardised with the training targets' statistics (`target_scale`; labels are
    then float rows, one column per target)."""

    def __init__(
        self,
        *,
        class_names: Sequence[str],
        input_shape: Sequence[int],
        num_train: int,
        num_val: int,
        mean: np.ndarray,
        std: np.ndarray,
        augment: Augment,
        target_scale: TargetScale | None = None,
    ) -> None:
        self.class_names = [str(name) for name in class_names]
        self.target_scale = target_scale
        self.input_shape = tuple(int(d) for d in input_shape)
        self.num_train, self.num_val = num_train, num_val
        self.mean, self.std = mean, std
        self.augment = augment
        self.device = torch.device("cpu")
        self.rank, self.world = 0, 1  # this process's share of each training batch (see `shard`)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_targets(self) -> int:
        """What a model predicts per sample: a score per class, or a number per target."""
        return len(self.target_scale.names) if self.target_scale is not None else self.num_classes

    @property
    def is_image(self) -> bool:
        return len(self.input_shape) == 3

    def steps_per_epoch(self, batch_size: int) -> int:
        """Full batches per epoch (the last partial batch is dropped, so batch norm never sees a batch of one)."""
        if batch_size > self.num_train:
            raise ConfigError("trainer.batch_size", batch_size, f"exceeds the {self.num_train} training samples")
        return self.num_train // batch_size

    def to(self, device: torch.device) -> "DataModule":
        self.device = device
        return self

    def shard(self, rank: int, world: int) -> "DataModule":
        """Make this process rank `rank` of `world` processes training together: of each training batch of
        `batch_size` samples it gets the `rank`-th of `world` equal slices, so that every sample is seen once per
        epoch and the ranks' batches together are the batch one process would see."""
        self.rank, self.world = rank, world
        return self

    def _slice(self, batch_size: int) -> slice:
        """This rank's part of a global batch."""
        share = batch_size // self.world
        return slice(self.rank * share, (self.rank + 1) * share)

    def train_batches(self, batch_size: int, epoch: int, seed: int) -> Iterator[Batch]:
        """Shuffled, augmented training batches (this rank's slice of each) on the device; the order depends on
        (seed, epoch) only."""
        for inputs, labels in self._train_batches(batch_size, epoch, seed):
            yield (self.augment(inputs) if self.augment.active else inputs), labels

    @abstractmethod
    def _train_batches(self, batch_size: int, epoch: int, seed: int) -> Iterator[Batch]: ...

    @abstractmethod
    def val_batches(self, batch_size: int) -> Iterator[Batch]:
        """Every validation sample exactly once, in a fixed order, on the device."""


class TensorData(DataModule):
    """A small data set held on the training device as two tensors and batched by index."""

    def __init__(
        self,
        train: tuple[np.ndarray, np.ndarray],
        val: tuple[np.ndarray, np.ndarray],
        class_names: Sequence[str],
        augment: Augment,
        target_scale: TargetScale | None = None,
    ) -> None:
        mean, std = channel_stats(train[0])
        super().__init__(
            class_names=class_names,
            input_shape=train[0].shape[1:],
            num_train=len(train[1]),
            num_val=len(val[1]),
            mean=mean,
            std=std,
            augment=augment,
            target_scale=target_scale,
        )
        self.train_x, self.train_y = self._tensors(*train)
        self.val_x, self.val_y = self._tensors(*val)

    @classmethod
    def from_arrays(
        cls,
        inputs: np.ndarray,
        labels: np.ndarray,
        class_names: Sequence[str],
        *,
        val_fraction: float,
        split_seed: int,
        augment: Augment,
    ) -> "TensorData":
        """Check the samples, split them with `split_seed` and normalise with training statistics."""
        check_samples(inputs, labels, len(class_names))
        train_index, val_index = split_indices(len(labels), val_fraction, split_seed)
        return cls(
            (inputs[train_index], labels[train_index]),
            (inputs[val_index], labels[val_index]),
            class_names,
            augment,
        )

    @classmethod
    def from_targets(
        cls,
        inputs: np.ndarray,
        targets: np.ndarray,
        target_names: Sequence[str],
        *,
        val_fraction: float,
        split_seed: int,
        augment: Augment,
    ) -> "TensorData":
        """Numeric targets (rows, targets): checked, split with `split_seed`, inputs normalised and targets
        standardised with training statistics."""
        targets = targets.reshape(len(targets), -1)
        check_samples(inputs, targets, None)
        train_index, val_index = split_indices(len(targets), val_fraction, split_seed)
        scale = TargetScale.of(target_names, targets[train_index])
        return cls(
            (inputs[train_index], scale.standardise(targets[train_index])),
            (inputs[val_index], scale.standardise(targets[val_index])),
            [],
            augment,
            target_scale=scale,
        )

    def _tensors(self, inputs: np.ndarray, labels: np.ndarray) -> Batch:
        normalised = (inputs.astype(np.float32) - self.mean) / self.std
        kind = np.float32 if self.target_scale is not None else np.int64
        return torch.from_numpy(np.ascontiguousarray(normalised)), torch.from_numpy(labels.astype(kind))

    def to(self, device: torch.device) -> "TensorData":
        super().to(device)
        self.train_x, self.train_y = self.train_x.to(device), self.train_y.to(device)
        self.val_x, self.val_y = self.val_x.to(device), self.val_y.to(device)
        return self

    def _train_batches(self, batch_size: int, epoch: int, seed: int) -> Iterator[Batch]:
        order = epoch_permutation(self.num_train, seed, epoch).to(self.device)
        for start in range(0, self.steps_per_epoch(batch_size) * batch_size, batch_size):
            index = order[start : start + batch_size][self._slice(batch_size)]
            yield self.train_x[index], self.train_y[index]

    def val_batches(self, batch_size: int) -> Iterator[Batch]:
        for start in range(0, self.num_val, batch_size):
            yield self.val_x[start : start + batch_size], self.val_y[start : start + batch_size]


class EpochSampler(Sampler[int]):
    """Yields the permutation of the epoch set last with `set_epoch` (read in the main process); with `part`, only
    that slice of each global batch of its size (a rank's share)."""

    def __init__(self, num_samples: int, seed: int = 0) -> None:
        self.num_samples, self.seed, self.epoch = num_samples, seed, 0
        self.batch_size, self.part = num_samples, slice(None)

    def set_epoch(self, seed: int, epoch: int) -> None:
        self.seed, self.epoch = seed, epoch

    def set_part(self, batch_size: int, part: slice) -> None:
        self.batch_size, self.part = batch_size, part

    def __iter__(self) -> Iterator[int]:
        order = epoch_permutation(self.num_samples, self.seed, self.epoch).tolist()
        full = len(order) - len(order) % self.batch_size
        return iter(
            i for start in range(0, full, self.batch_size) for i in order[start : start + self.batch_size][self.part]
        )

    def __len__(self) -> int:
        return self.num_samples // self.batch_size * len(range(self.batch_size)[self.part])


class StreamingData(DataModule):
    """A data set decoded from files by DataLoader workers and moved to the device batch by batch."""

    def __init__(
        self,
        train: Dataset[tuple[torch.Tensor, int]],
        val: Dataset[tuple[torch.Tensor, int]],
        *,
        class_names: Sequence[str],
        input_shape: Sequence[int],
        mean: np.ndarray,
        std: np.ndarray,
        augment: Augment,
        num_workers: int,
    ) -> None:
        super().__init__(
            class_names=class_names,
            input_shape=input_shape,
            num_train=len(train),  # type: ignore[arg-type]
            num_val=len(val),  # type: ignore[arg-type]
            mean=mean,
            std=std,
            augment=augment,
        )
        self.train_set, self.val_set, self.num_workers = train, val, num_workers
        self._sampler = EpochSampler(self.num_train)
        self._train_loader: DataLoader[tuple[torch.Tensor, int]] | None = None

    def _loader(
        self, dataset: Dataset[tuple[torch.Tensor, int]], batch_size: int, **kwargs: Any
    ) -> DataLoader[tuple[torch.Tensor, int]]:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=self.num_workers > 0 and kwargs.pop("persistent", False),
            **kwargs,
        )

    def _to_device(self, batch: Batch) -> Batch:
        inputs, labels = batch
        return inputs.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)

    def _train_batches(self, batch_size: int, epoch: int, seed: int) -> Iterator[Batch]:
        self.steps_per_epoch(batch_size)
        share = batch_size // self.world
        if self._train_loader is None or self._train_loader.batch_size != share:
            self._train_loader = self._loader(
                self.train_set, share, sampler=self._sampler, drop_last=True, persistent=True
            )
        self._sampler.set_part(batch_size, self._slice(batch_size))
        self._sampler.set_epoch(seed, epoch)
        yield from map(self._to_device, self._train_loader)

    def val_batches(self, batch_size: int) -> Iterator[Batch]:
        yield from map(self._to_device, self._loader(self.val_set, batch_size, shuffle=False))
