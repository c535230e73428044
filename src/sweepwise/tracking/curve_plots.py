"""Learning curves as a PNG."""

from collections.abc import Sequence
from pathlib import Path

from sweepwise.figures import pyplot


def save_curves(history: Sequence[dict[str, float]], score: str, path: Path) -> Path:
    """Loss (train and validation) and the task's validation score (`val/acc`, `val/r2`), with its SE where the
    history has one, against epoch."""
    plt = pyplot()
    epochs = [row["epoch"] for row in history]
    figure, (loss_axis, score_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot(epochs, [row["train/loss"] for row in history], label="train/loss")
    loss_axis.plot(epochs, [row["val/loss"] for row in history], label="val/loss")
    loss_axis.set(xlabel="epoch", ylabel="loss", title="loss", yscale="log")
    loss_axis.legend()
    values = [row[score] for row in history]
    errors = [row.get(f"{score}_se", 0.0) for row in history]
    score_axis.errorbar(epochs, values, yerr=errors, capsize=2, label=f"{score} +- SE")
    score_axis.set(xlabel="epoch", ylabel=score, title=f"validation {score.removeprefix('val/')}")
    score_axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
