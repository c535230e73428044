"""The data report (the recipe's "become one with the data"): decoding, labels, class balance, statistics,
duplicates and train/validation overlap by content hash, sample grids and the extremes.

`python train.py mode=inspect [data=...]` writes PNGs and `summary.md` to `<output_dir>/inspect`, logs them to an
MLflow run of their own and prints the headline numbers.
"""

import hashlib
import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from sweepwise import configure
from sweepwise.errors import ConfigError
from sweepwise.figures import pyplot, save_figure, show_image
from sweepwise.recipe.report import slug
from sweepwise.recipe.samples import Samples, load_samples
from sweepwise.tasks import Classification

EXAMPLES = 5  # examples listed per finding
GRID_PER_CLASS = 8
EXTREMES = 8


def content_hashes(inputs: np.ndarray) -> list[str]:
    return [hashlib.sha1(np.ascontiguousarray(sample).tobytes()).hexdigest() for sample in inputs]


def duplicates(samples: Samples) -> tuple[list[list[str]], list[tuple[str, str]]]:
    """(groups of identical training samples, (train, validation) pairs with identical content)."""
    by_hash: dict[str, list[str]] = defaultdict(list)
    for digest, name in zip(content_hashes(samples.train_x), samples.train_names, strict=True):
        by_hash[digest].append(name)
    groups = [names for names in by_hash.values() if len(names) > 1]
    overlap = [
        (by_hash[digest][0], name)
        for digest, name in zip(content_hashes(samples.val_x), samples.val_names, strict=True)
        if digest in by_hash
    ]
    return groups, overlap


def feature_stats(samples: Samples) -> list[tuple[str, float, float, float, float]]:
    """(channel or feature, mean, std, min, max) over the training samples."""
    x = samples.train_x
    flat = x.transpose(1, 0, 2, 3).reshape(x.shape[1], -1) if samples.is_image else x.reshape(len(x), -1).T
    kind = "channel" if samples.is_image else "feature"
    return [
        (f"{kind} {index}", float(values.mean()), float(values.std()), float(values.min()), float(values.max()))
        for index, values in enumerate(flat)
    ]


def inspect_data(cfg: DictConfig, folder: Path) -> tuple[dict[str, int | str], list[Path]]:
    """Write the report to `folder`: (headline numbers, files)."""
    samples = load_samples(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    num_classes = len(samples.class_names)
    labels = np.concatenate([samples.train_y, samples.val_y])
    bad_labels = int(((labels < 0) | (labels >= num_classes)).sum())
    non_finite = [
        name
        for x, names in ((samples.train_x, samples.train_names), (samples.val_x, samples.val_names))
        for name, finite in zip(names, np.isfinite(x.reshape(len(x), -1)).all(axis=1), strict=True)
        if not finite
    ]
    groups, overlap = duplicates(samples)
    headline: dict[str, int | str] = {
        "samples decoded": len(labels),
        "corrupt (not decoded)": len(samples.corrupt),
        "non-finite samples": len(non_finite),
        "labels outside [0, C)": bad_labels,
        "classes": num_classes,
        "train / validation": f"{len(samples.train_y)} / {len(samples.val_y)}",
        "smallest / largest class (train)": "{} / {}".format(*_class_extremes(samples)),
        "duplicate groups in train": len(groups),
        "train/validation overlap": len(overlap),
    }
    files = [_histogram(samples, folder / "class_histogram.png")]
    if samples.is_image:
        files += [_class_grid(samples, folder / "class_samples.png"), _extremes(samples, folder / "extremes.png")]
    stats = feature_stats(samples)
    files.append(_summary(samples, headline, stats, groups, overlap, non_finite, folder / "summary.md"))
    _print(headline)
    return headline, files


def _class_extremes(samples: Samples) -> tuple[int, int]:
    counts = np.bincount(samples.train_y, minlength=len(samples.class_names))
    return int(counts.min()), int(counts.max())


def _summary(
    samples: Samples,
    headline: Mapping[str, object],
    stats: list[tuple[str, float, float, float, float]],
    groups: list[list[str]],
    overlap: list[tuple[str, str]],
    non_finite: list[str],
    path: Path,
) -> Path:
    lines = ["# Data report", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in headline.items()]
    lines += ["", "## Statistics (training samples, before normalisation)", "", "| | mean | std | min | max |"]
    lines.append("|---|---|---|---|---|")
    lines += [f"| {name} | {mean:.4g} | {std:.4g} | {low:.4g} | {high:.4g} |" for name, mean, std, low, high in stats]
    findings = {
        "Corrupt samples": samples.corrupt,
        "Non-finite samples": non_finite,
        "Duplicate groups in train": [", ".join(group) for group in groups],
        "Train/validation overlap (train = validation)": [f"{a} = {b}" for a, b in overlap],
    }
    for title, items in findings.items():
        if items:
            lines += ["", f"## {title} ({len(items)})", ""] + [f"- {item}" for item in items[:EXAMPLES]]
            lines += [f"- ... and {len(items) - EXAMPLES} more"] if len(items) > EXAMPLES else []
    path.write_text("\n".join(lines) + "\n")
    return path


def _print(headline: Mapping[str, object]) -> None:
    table = Table(title="data report", title_justify="left")
    table.add_column("")
    table.add_column("", justify="right")
    for key, value in headline.items():
        table.add_row(key, str(value))
    Console(soft_wrap=True).print(table)


def _histogram(samples: Samples, path: Path) -> Path:
    plt = pyplot()
    classes = np.arange(len(samples.class_names))
    figure, axis = plt.subplots(figsize=(max(6.0, 0.4 * len(classes)), 3.5))
    for offset, (labels, name) in enumerate(((samples.train_y, "train"), (samples.val_y, "validation"))):
        axis.bar(classes + 0.4 * offset, np.bincount(labels, minlength=len(classes)), width=0.4, label=name)
    axis.set_xticks(classes + 0.2, samples.class_names, rotation=90 if len(classes) > 12 else 0)
    axis.set_ylabel("samples")
    axis.set_title("class histogram")
    axis.legend()
    return save_figure(figure, path)


def _class_grid(samples: Samples, path: Path) -> Path:
    plt = pyplot()
    rows = len(samples.class_names)
    figure, axes = plt.subplots(rows, GRID_PER_CLASS, figsize=(GRID_PER_CLASS * 1.1, rows * 1.2), squeeze=False)
    for label, name in enumerate(samples.class_names):
        chosen = np.flatnonzero(samples.train_y == label)[:GRID_PER_CLASS]
        for column, axis in enumerate(axes[label]):
            if column < len(chosen):
                show_image(axis, samples.train_x[chosen[column]], name)
            else:
                axis.axis("off")
    figure.suptitle("training samples per class")
    return save_figure(figure, path, dpi=70)


def _extremes(samples: Samples, path: Path) -> Path:
    """The darkest, the brightest and the most unusual (largest z-score against the mean image) samples."""
    plt = pyplot()
    x = samples.train_x
    brightness = x.reshape(len(x), -1).mean(axis=1)
    z = ((x - x.mean(axis=0)) / (x.std(axis=0) + 1e-8)).reshape(len(x), -1)
    rows = {
        "darkest": np.argsort(brightness)[:EXTREMES],
        "brightest": np.argsort(brightness)[::-1][:EXTREMES],
        "largest z-score": np.argsort(np.sqrt((z**2).mean(axis=1)))[::-1][:EXTREMES],
    }
    figure, axes = plt.subplots(3, EXTREMES, figsize=(EXTREMES * 1.3, 4.6), squeeze=False)
    for row, (title, chosen) in zip(axes, rows.items(), strict=True):
        for axis, index in zip(row, chosen, strict=False):
            show_image(axis, x[index], f"{title}\n{samples.train_names[index]}"[:40])
    return save_figure(figure, path, dpi=70)


def run_inspect(cfg: DictConfig) -> int:
    """`python train.py mode=inspect`: the report in `<output_dir>/inspect` and an MLflow run of its own; the exit
    code is 1 when samples are corrupt, non-finite or wrongly labelled."""
    from sweepwise.tracking.mlflow_run import MlflowRun, now_ms, resolve_tracking_uri
    from sweepwise.tracking.provenance import provenance_tags

    task = configure.build_task(cfg)
    if not isinstance(task, Classification):
        raise ConfigError("mode", "inspect", f"the data report counts classes: task={task.name} has none")
    folder = Path(cfg.output_dir) / "inspect"
    started = now_ms()
    headline, files = inspect_data(cfg, folder)
    run = MlflowRun.start(
        uri=resolve_tracking_uri(cfg.tracking.uri),
        experiment=cfg.tracking.experiment,
        run_name="inspect",
        tags={**provenance_tags(()), "sweepwise.role": "inspect"},
        start_time=started,
    )
    run.log_metrics({f"data/{slug(key)}": value for key, value in headline.items() if isinstance(value, int)}, 0)
    for path in files:
        run.log_artifact(path, "inspect")
    counts = {
        key: int(headline[key]) for key in ("corrupt (not decoded)", "non-finite samples", "labels outside [0, C)")
    }
    broken = sum(counts.values())
    run.finish("FAILED" if broken else "FINISHED")
    print(f"report: {folder / 'summary.md'}")
    if broken:
        found = ", ".join(f"{count} {key}" for key, count in counts.items() if count)
        print(f"error: the data is broken: {found}; see {folder / 'summary.md'}", file=sys.stderr)
    return 1 if broken else 0
