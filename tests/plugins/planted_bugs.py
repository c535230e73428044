"""Pipelines with one planted bug each (models and data as `_target_`s), for the preflight's checks to catch."""

from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sweepwise.data.digits import load_digits
from sweepwise.data.module import Batch, TensorData
from sweepwise.data.text_corpus import TokenData, load_text
from sweepwise.models.transformer import CausalSelfAttention, Transformer


class _Hidden(nn.Module):
    def __init__(self, input_shape: Sequence[int], num_classes: int, width: int = 64, **_: object) -> None:
        super().__init__()
        self.hidden = nn.Linear(int(np.prod(input_shape)), width)
        self.out = nn.Linear(width, num_classes)


class BatchMixingModel(_Hidden):
    """Reshapes its hidden activations as if they were (features, batch): samples leak into each other."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.hidden(inputs.flatten(1)))
        return self.out(hidden.t().reshape(len(inputs), -1))


class InputIgnoringModel(_Hidden):
    """Answers from its bias alone."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.out.bias.expand(len(inputs), -1) + 0.0 * self.out.weight.sum()


class DoubleSoftmaxModel(_Hidden):
    """Returns probabilities where the loss expects logits: softmax applied twice."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.out(torch.relu(self.hidden(inputs.flatten(1)))), dim=1)


class OverconfidentInitModel(_Hidden):
    """An output layer initialised 30 times too large: confidently wrong from the first step."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, width: int = 64, **_: object) -> None:
        super().__init__(input_shape, num_classes, width)
        with torch.no_grad():
            self.out.weight.mul_(30.0)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(inputs.flatten(1))))


def shuffled_label_digits(val_fraction: float = 0.2, split_seed: int = 0, augment: dict | None = None) -> TensorData:
    """Digits whose labels were shuffled against their images."""
    data = load_digits(val_fraction, split_seed, augment)
    generator = torch.Generator().manual_seed(1)
    data.train_y = data.train_y[torch.randperm(len(data.train_y), generator=generator)]
    data.val_y = data.val_y[torch.randperm(len(data.val_y), generator=generator)]
    return data


class _RawPixels(TensorData):
    def _tensors(self, inputs: np.ndarray, labels: np.ndarray) -> Batch:
        return torch.from_numpy(inputs * 16.0), torch.from_numpy(labels.astype(np.int64))


def unnormalised_digits(val_fraction: float = 0.2, split_seed: int = 0, augment: dict | None = None) -> TensorData:
    """Digits as raw 0-255 pixels: the normalisation step forgotten."""
    data = load_digits(val_fraction, split_seed, augment)
    return _RawPixels(
        (data.train_x.numpy() * data.std + data.mean, data.train_y.numpy()),
        (data.val_x.numpy() * data.std + data.mean, data.val_y.numpy()),
        data.class_names,
        data.augment,
    )


class _UnseededOrder(TensorData):
    def _train_batches(self, batch_size: int, epoch: int, seed: int) -> Iterator[Batch]:
        order = torch.from_numpy(np.random.default_rng().permutation(self.num_train))  # ignores the seed
        for start in range(0, self.steps_per_epoch(batch_size) * batch_size, batch_size):
            index = order[start : start + batch_size]
            yield self.train_x[index], self.train_y[index]


def unseeded_order_digits(val_fraction: float = 0.2, split_seed: int = 0, augment: dict | None = None) -> TensorData:
    """Digits shuffled with an unseeded generator: another order on every run, whatever the seed."""
    data = load_digits(val_fraction, split_seed, augment)
    data.__class__ = _UnseededOrder
    return data


class _DropLast(TensorData):
    def val_batches(self, batch_size: int) -> Iterator[Batch]:
        size = min(batch_size, 64)
        for start in range(0, self.num_val - size + 1, size):  # the last partial batch is dropped
            yield self.val_x[start : start + size], self.val_y[start : start + size]


def drop_last_val_digits(val_fraction: float = 0.2, split_seed: int = 0, augment: dict | None = None) -> TensorData:
    """Digits whose validation batches drop the last partial batch."""
    data = load_digits(val_fraction, split_seed, augment)
    data.__class__ = _DropLast
    return data


def shifted_val_label_digits(val_fraction: float = 0.2, split_seed: int = 0, augment: dict | None = None) -> TensorData:
    """Digits whose validation labels are off by one class against the training labels."""
    data = load_digits(val_fraction, split_seed, augment)
    data.val_y = (data.val_y + 1) % data.num_classes
    return data


class _AugmentedValidation(TensorData):
    def val_batches(self, batch_size: int) -> Iterator[Batch]:
        for inputs, labels in super().val_batches(batch_size):
            yield inputs + 0.3 * torch.randn_like(inputs), labels  # the training augmentation, on validation


def augmented_val_digits(val_fraction: float = 0.2, split_seed: int = 0, augment: dict | None = None) -> TensorData:
    """Digits whose validation batches get the training set's noise augmentation."""
    data = load_digits(val_fraction, split_seed, augment)
    data.__class__ = _AugmentedValidation
    return data


class _SortedByClass(TensorData):
    def _train_batches(self, batch_size: int, epoch: int, seed: int) -> Iterator[Batch]:
        order = torch.argsort(self.train_y, stable=True)  # never shuffled: one class after another
        for start in range(0, self.steps_per_epoch(batch_size) * batch_size, batch_size):
            index = order[start : start + batch_size]
            yield self.train_x[index], self.train_y[index]


def sorted_digits(val_fraction: float = 0.2, split_seed: int = 0, augment: dict | None = None) -> TensorData:
    """Digits fed in class order, never shuffled."""
    data = load_digits(val_fraction, split_seed, augment)
    data.__class__ = _SortedByClass
    return data


def leaky_split_digits(
    val_fraction: float = 0.2, split_seed: int = 0, augment: dict | None = None, leaked: float = 0.3
) -> TensorData:
    """Digits whose validation set repeats training samples (a share `leaked` of it)."""
    data = load_digits(val_fraction, split_seed, augment)
    count = int(leaked * data.num_val)
    data.val_x[:count], data.val_y[:count] = data.train_x[:count], data.train_y[:count]
    return data


class _Mlp(_Hidden):
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(inputs.flatten(1))))


class DropoutAlwaysOnModel(_Mlp):
    """Applies dropout with `training=True` hard-coded: still active in evaluation mode."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.out(F.dropout(torch.relu(self.hidden(inputs.flatten(1))), 0.3, training=True))


class BatchNormStuckInTrainingModel(_Mlp):
    """Its batch norm ignores `eval()`: validation samples are normalised with their batch's statistics."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, width: int = 64, **_: object) -> None:
        super().__init__(input_shape, num_classes, width)
        self.norm = nn.BatchNorm1d(width)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = F.batch_norm(
            self.hidden(inputs.flatten(1)), None, None, self.norm.weight, self.norm.bias, training=True
        )
        return self.out(torch.relu(hidden))


class HiddenLayerModel(_Mlp):
    """Keeps a second layer in a plain list: it gets gradients, but `parameters()` (so the optimiser) misses it."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, width: int = 64, **_: object) -> None:
        super().__init__(input_shape, num_classes, width)
        self.hidden_layers = [nn.Linear(width, width)]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.hidden(inputs.flatten(1)))
        return self.out(torch.relu(self.hidden_layers[0](hidden)))


class DetachedBranchModel(_Mlp):
    """Detaches its hidden layer's output: the first layer never receives a gradient."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(inputs.flatten(1))).detach())


class SummedLossScaleModel(_Mlp):
    """Scales its gradients by the batch size (as `reduction="sum"` would) at unchanged outputs: a learning rate
    meant for the mean is then far too large."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits = self.out(torch.relu(self.hidden(inputs.flatten(1))))
        return logits + (len(inputs) - 1) * (logits - logits.detach())


class NanAfterStepsModel(_Mlp):
    """Produces NaN once it has run 30 training forward passes (a log of 0 reached mid-training)."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, width: int = 64, **_: object) -> None:
        super().__init__(input_shape, num_classes, width)
        self.calls = 0

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits = self.out(torch.relu(self.hidden(inputs.flatten(1))))
        if self.training:
            self.calls += 1
        return logits * float("nan") if self.calls > 30 else logits


class UnusedBranchModel(_Mlp):
    """Correct, with a branch whose output the head ignores (as a classifier that reads one token of many)."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, width: int = 64, **_: object) -> None:
        super().__init__(input_shape, num_classes, width)
        self.auxiliary = nn.Linear(width, width)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.hidden(inputs.flatten(1)))
        self.auxiliary(hidden)  # computed, never used
        return self.out(hidden)


class ReluHeadModel(_Mlp):
    """A regression head with a ReLU after it: standardised targets below zero are out of its reach."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.relu(super().forward(inputs))


def unstandardised_diabetes(val_fraction: float = 0.2, split_seed: int = 0, augment: dict | None = None) -> TensorData:
    """Diabetes with its targets handed to the loss in their own units (25-346): the standardisation forgotten."""
    from sweepwise.data.diabetes import load_diabetes

    data = load_diabetes(val_fraction, split_seed, augment)
    assert data.target_scale is not None
    scale = torch.as_tensor(data.target_scale.std, dtype=torch.float32)
    shift = torch.as_tensor(data.target_scale.mean, dtype=torch.float32)
    data.train_y, data.val_y = data.train_y * scale + shift, data.val_y * scale + shift
    return data


class _AttentionWithoutMask(CausalSelfAttention):
    """Self-attention over every position, the later ones included."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, width = x.shape
        q, k, v = (t.view(batch, steps, self.heads, -1).transpose(1, 2) for t in self.qkv(x).split(width, dim=2))
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, steps, width))


class PeekingTransformer(Transformer):
    """The causal mask forgotten: each position attends to the tokens after it, the one it predicts among them."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for block in self.blocks:
            block.attention.__class__ = _AttentionWithoutMask


def unshifted_text(**kwargs: object) -> TokenData:
    """The corpus with each target the input token itself, not the next one: the shift forgotten."""
    data = load_text(**kwargs)  # type: ignore[arg-type]
    data.train_y, data.val_y = data.train_x.clone(), data.val_x.clone()
    return data
