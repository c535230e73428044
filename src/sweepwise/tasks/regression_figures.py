"""What a regression predicts on the validation set, in the targets' own units: predicted against true values
(the diagonal is a perfect model), and the residuals against the prediction (a pattern is what the model missed)."""

from pathlib import Path

import numpy as np
import torch
from torch import nn

from sweepwise.data import DataModule
from sweepwise.data.targets import TargetScale
from sweepwise.figures import pyplot, save_figure

MAX_TARGETS_SHOWN = 4


@torch.no_grad()
def prediction_figures(
    model: nn.Module, data: DataModule, scale: TargetScale, batch_size: int, folder: Path
) -> list[Path]:
    """`predicted_vs_true.png` and `residuals.png` (the first few targets), and every prediction as CSV."""
    was_training = model.training
    model.eval()
    pairs = [(model(inputs).float().reshape(targets.shape).cpu(), targets.cpu()) for inputs, targets in
             data.val_batches(batch_size)]  # fmt: skip
    model.train(was_training)
    predicted = torch.cat([p for p, _ in pairs]).numpy() * scale.std + scale.mean
    truth = torch.cat([t for _, t in pairs]).numpy() * scale.std + scale.mean
    folder.mkdir(parents=True, exist_ok=True)
    shown = scale.names[:MAX_TARGETS_SHOWN]
    table = folder / "val_predictions.csv"
    header = ",".join(f"{name}_true,{name}_predicted" for name in scale.names)
    np.savetxt(table, np.column_stack([truth, predicted])[:, _interleaved(len(scale.names))], delimiter=",",
               header=header, comments="", fmt="%.6g")  # fmt: skip
    return [
        _panels(shown, truth, predicted, folder / "predicted_vs_true.png", residuals=False),
        _panels(shown, truth, predicted, folder / "residuals.png", residuals=True),
        table,
    ]


def _interleaved(targets: int) -> list[int]:
    """Columns (true_0, predicted_0, true_1, ...) of [truth | predicted]."""
    return [column for index in range(targets) for column in (index, targets + index)]


def _panels(names: list[str], truth: np.ndarray, predicted: np.ndarray, path: Path, residuals: bool) -> Path:
    plt = pyplot()
    figure, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 4.2), squeeze=False)
    for index, (axis, name) in enumerate(zip(axes[0], names, strict=True)):
        true, guess = truth[:, index], predicted[:, index]
        if residuals:
            axis.scatter(guess, true - guess, s=8, alpha=0.6)
            axis.axhline(0.0, color="black", linewidth=1)
            axis.set(xlabel=f"predicted {name}", ylabel="true - predicted", title=f"residuals: {name}")
        else:
            axis.scatter(true, guess, s=8, alpha=0.6)
            low, high = float(min(true.min(), guess.min())), float(max(true.max(), guess.max()))
            axis.plot([low, high], [low, high], color="black", linewidth=1)
            axis.set(xlabel=f"true {name}", ylabel=f"predicted {name}", title=f"predicted vs true: {name}")
    figure.suptitle(f"{len(truth)} validation samples")
    return save_figure(figure, path)
