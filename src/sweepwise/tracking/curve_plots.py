"""Learning curves as a PNG."""

from collections.abc import Sequence
from pathlib import Path

from sweepwise.figures import pyplot


def save_curves(history: Sequence[dict[str, float]], path: Path) -> Path:
    """Loss (train and validation) and validation accuracy against epoch."""
    plt = pyplot()
    epochs = [row["epoch"] for row in history]
    figure, (loss_axis, acc_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot(epochs, [row["train/loss"] for row in history], label="train/loss")
    loss_axis.plot(epochs, [row["val/loss"] for row in history], label="val/loss")
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log")
    loss_axis.legend()
    accuracy = [row["val/acc"] for row in history]
    error = [row["val/acc_se"] for row in history]
    acc_axis.errorbar(epochs, accuracy, yerr=error, capsize=2, label="val/acc +- SE")
    acc_axis.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
    acc_axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
