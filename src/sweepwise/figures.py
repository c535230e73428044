"""Plotting helpers shared by the recipe's reports (matplotlib, off-screen)."""

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported on first use
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def pyplot() -> ModuleType:
    """matplotlib's pyplot on the Agg backend (imported on first use: it is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def show_image(axis: "Axes", image: np.ndarray, title: str) -> None:
    """A (C, H, W) image rescaled to [0, 1] on its own (grey for one channel), titled, without axes."""
    image = np.asarray(image)
    shown = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)[..., :3]
    shown = (shown - shown.min()) / max(float(shown.max() - shown.min()), 1e-8)
    axis.imshow(shown, cmap="gray" if image.shape[0] == 1 else None)
    axis.set_title(title, fontsize=7)
    axis.axis("off")


def save_figure(figure: "Figure", path: Path, dpi: int = 80) -> Path:
    """Lay out, write (creating the folder) and close a figure."""
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    pyplot().close(figure)
    return path
