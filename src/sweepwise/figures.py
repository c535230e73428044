"""Plotting helpers shared by the recipe's reports (matplotlib, off-screen)."""

from collections.abc import Sequence
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
    axis.imshow(_rgb(np.asarray(image)))
    axis.set_title(title, fontsize=7)
    axis.axis("off")


def image_grid(axis: "Axes", images: np.ndarray, titles: Sequence[str], columns: int) -> None:
    """Images (N, C, H, W), each rescaled to [0, 1] on its own, tiled in rows of `columns` on one axis and
    titled: one picture, where an axis per image costs matplotlib over half a second to lay out and draw for 16."""
    tiles = [_rgb(image) for image in images]
    height, width = tiles[0].shape[:2]
    gap = max(1, height // 4)
    rows = -(-len(tiles) // columns)
    canvas = np.ones(((height + 2 * gap) * rows, (width + gap) * columns, 3))
    for index, (tile, title) in enumerate(zip(tiles, titles, strict=True)):
        top, left = (index // columns) * (height + 2 * gap) + 2 * gap, (index % columns) * (width + gap)
        canvas[top : top + height, left : left + width] = tile
        axis.text(left + width / 2, top - 0.5, title, fontsize=7, ha="center", va="bottom")
    axis.imshow(canvas, interpolation="nearest")
    axis.axis("off")


def _rgb(image: np.ndarray) -> np.ndarray:
    """(C, H, W) as (H, W, 3) in [0, 1]: the first three channels as colours, or the first as grey."""
    shown = image[:3] if image.shape[0] >= 3 else np.repeat(image[:1], 3, axis=0)
    shown = (shown - shown.min()) / max(float(shown.max() - shown.min()), 1e-8)
    return np.asarray(shown.transpose(1, 2, 0))


def save_figure(figure: "Figure", path: Path, dpi: int = 80) -> Path:
    """Lay out, write (creating the folder) and close a figure."""
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    pyplot().close(figure)
    return path
