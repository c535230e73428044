"""What the model predicts as it trains, and what it gets wrong at the end.

Prediction dynamics: a fixed, stratified set of validation examples (a few per class) is run through the model
every `every` optimiser steps, and its probability of the true class is kept: an examples x steps heatmap shows
which examples are learnt when, and which never are. At the end, the confusion matrix of the whole validation set
and a grid of its highest-loss examples (images) show mistakes that contradict the data.
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sweepwise.data import DataModule
from sweepwise.figures import image_grid, pyplot, save_figure

EXAMPLES_PER_CLASS = 4
MAX_EXAMPLES = 64
COLUMNS = 100  # about this many recordings over a run


class PredictionDynamics:
    """A step probe of the training loop: p(true class) of fixed validation examples every `every` steps."""

    def __init__(self, data: DataModule, total_steps: int, batch_size: int) -> None:
        inputs, labels = _validation_arrays(data, batch_size)
        per_class = max(1, min(EXAMPLES_PER_CLASS, MAX_EXAMPLES // data.num_classes))
        chosen = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(data.num_classes)])
        self.inputs, self.labels = inputs[chosen], torch.as_tensor(labels[chosen], device=inputs.device)
        self.class_names = data.class_names
        self.every = max(1, total_steps // COLUMNS)
        self.steps: list[int] = []
        self.columns: list[np.ndarray] = []

    @torch.no_grad()
    def __call__(self, step: int, model: nn.Module) -> None:
        was_training = model.training
        model.eval()
        probabilities = F.softmax(model(self.inputs).float(), dim=1)
        model.train(was_training)
        self.steps.append(step)
        self.columns.append(probabilities.gather(1, self.labels[:, None])[:, 0].cpu().numpy())

    def state_dict(self) -> dict[str, Any]:
        """What was recorded, in types `torch.load(weights_only=True)` reads."""
        return {"steps": list(self.steps), "p_true": [torch.from_numpy(column) for column in self.columns]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps, self.columns = list(state["steps"]), [column.numpy() for column in state["p_true"]]

    def save(self, path: Path) -> list[Path]:
        """The heatmap (examples x steps) and its numbers (`.npz`: steps, p_true); none before the first
        recording."""
        if not self.columns:
            return []
        plt = pyplot()
        matrix = np.stack(self.columns, axis=1)
        figure, axis = plt.subplots(figsize=(10, max(3.0, 0.12 * len(matrix) + 1.5)))
        image = axis.imshow(
            matrix, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest",
            extent=(self.steps[0], self.steps[-1], len(matrix) - 0.5, -0.5),
        )  # fmt: skip
        ticks = np.arange(0, len(matrix), max(1, len(matrix) // 20))
        axis.set_yticks(ticks, [self.class_names[int(self.labels[i])] for i in ticks], fontsize=7)
        axis.set_xlabel("optimiser step")
        axis.set_ylabel("validation example (true class)")
        axis.set_title("prediction dynamics: p(true class) of fixed validation examples")
        figure.colorbar(image, ax=axis, label="p(true class)")
        save_figure(figure, path)
        np.savez_compressed(path.with_suffix(".npz"), steps=np.array(self.steps), p_true=matrix)
        return [path, path.with_suffix(".npz")]


def _validation_arrays(data: DataModule, batch_size: int) -> tuple[torch.Tensor, np.ndarray]:
    inputs, labels = zip(*data.val_batches(batch_size), strict=True)
    return torch.cat(inputs), torch.cat(labels).cpu().numpy()


@torch.no_grad()
def mistakes(model: nn.Module, data: DataModule, batch_size: int, folder: Path) -> list[Path]:
    """The validation set's confusion matrix and, for images, its 16 highest-loss examples."""
    was_training = model.training
    model.eval()
    losses, predictions, labels, images = [], [], [], []
    for inputs, targets in data.val_batches(batch_size):
        logits = model(inputs).float()
        losses.append(F.cross_entropy(logits, targets, reduction="none").cpu())
        predictions.append(logits.argmax(dim=1).cpu())
        labels.append(targets.cpu())
        if data.is_image:
            images.append(inputs.cpu())
    model.train(was_training)
    loss, predicted, truth = torch.cat(losses), torch.cat(predictions).numpy(), torch.cat(labels).numpy()
    confusion = np.zeros((data.num_classes, data.num_classes), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    folder.mkdir(parents=True, exist_ok=True)
    saved = _save_confusion(confusion, data.class_names, folder / "confusion_matrix.png")
    if data.is_image:
        worst = torch.argsort(loss, descending=True)[:16]
        saved.append(
            _save_top_losses(torch.cat(images)[worst], truth[worst], predicted[worst], loss[worst], data, folder)
        )
    return saved


def _save_confusion(confusion: np.ndarray, names: list[str], path: Path) -> list[Path]:
    """The confusion matrix as a picture and as CSV counts (rows: true class, columns: predicted)."""
    plt = pyplot()
    size = max(4.0, 0.45 * len(names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(confusion, cmap="Blues")
    if len(names) <= 30:
        axis.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        axis.set_yticks(range(len(names)), names, fontsize=7)
        for (row, column), count in np.ndenumerate(confusion):
            if count:
                axis.text(column, row, str(count), ha="center", va="center", fontsize=6)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(f"confusion matrix ({confusion.sum()} validation samples)")
    save_figure(figure, path)
    np.savetxt(path.with_suffix(".csv"), confusion, fmt="%d", delimiter=",")
    return [path, path.with_suffix(".csv")]


def _save_top_losses(
    images: torch.Tensor, truth: np.ndarray, predicted: np.ndarray, loss: torch.Tensor, data: DataModule, folder: Path
) -> Path:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(16, 4.8))
    titles = [
        f"{data.class_names[true]} -> {data.class_names[guess]}\nloss {value:.2f}"
        for true, guess, value in zip(truth, predicted, loss, strict=False)
    ]
    image_grid(axis, images[: len(titles)].numpy(), titles, columns=8)
    figure.suptitle("highest-loss validation examples (true -> predicted)")
    return save_figure(figure, folder / "top_losses.png")
