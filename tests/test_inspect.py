"""The data report: every sample decoded (corrupt files named), duplicates and train/validation overlap by content,
class balance, statistics and grids, for images and tables."""

import shutil
from pathlib import Path

import pytest
from helpers import compose_config, mlflow_client, run_train, write_csv, write_image_folder

from sweepwise.recipe.inspection import inspect_data
from sweepwise.recipe.samples import load_samples


def flawed_image_folder(root: Path) -> Path:
    """Two classes of 12 images; one file is not an image, one image is copied three times."""
    write_image_folder(root, ["cat", "dog"], per_class=12)
    (root / "cat" / "broken.png").write_bytes(b"not a png at all")
    for copy in range(3):
        shutil.copy(root / "dog" / "0.png", root / "dog" / f"copy{copy}.png")
    return root


def test_image_report_names_corrupt_files_duplicates_and_overlap(tmp_path: Path):
    root = flawed_image_folder(tmp_path / "images")
    cfg = compose_config(["data=image_folder", f"data.root={root}"])
    headline, files = inspect_data(cfg, tmp_path / "report")
    assert headline["samples decoded"] == 27 and headline["corrupt (not decoded)"] == 1
    samples = load_samples(cfg)
    copies = {"dog/0.png", "dog/copy0.png", "dog/copy1.png", "dog/copy2.png"}
    in_train, in_val = len(copies & set(samples.train_names)), len(copies & set(samples.val_names))
    assert in_train >= 2 and in_val >= 1  # the split (seed 0) puts copies on both sides
    assert headline["duplicate groups in train"] == 1 and headline["train/validation overlap"] == in_val
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "broken.png: cannot decode image" in summary and "dog/copy" in summary
    assert {path.name for path in files} == {"class_histogram.png", "class_samples.png", "extremes.png", "summary.md"}
    assert "| channel 2 |" in summary  # RGB: statistics per channel


def test_tabular_report_has_feature_statistics_and_no_image_grids(tmp_path: Path):
    table = write_csv(tmp_path / "table.csv", rows=120)
    cfg = compose_config(["data=csv", f"data.path={table}", "data.label_column=species"])
    headline, files = inspect_data(cfg, tmp_path / "report")
    assert headline["samples decoded"] == 120 and headline["classes"] == 3
    assert {path.name for path in files} == {"class_histogram.png", "summary.md"}
    assert "| feature 2 |" in (tmp_path / "report" / "summary.md").read_text()


def test_tabular_report_names_rows_with_missing_values(tmp_path: Path):
    table = write_csv(tmp_path / "table.csv", rows=60)
    lines = table.read_text().splitlines()
    lines[7] = "," + lines[7].split(",", 1)[1]  # line 8 of the file loses its first feature
    table.write_text("\n".join(lines) + "\n")
    cfg = compose_config(["data=csv", f"data.path={table}", "data.label_column=species"])
    headline, _ = inspect_data(cfg, tmp_path / "report")
    assert headline["non-finite samples"] == 1 and headline["samples decoded"] == 60
    assert "- line 8" in (tmp_path / "report" / "summary.md").read_text()


@pytest.mark.slow
def test_inspect_task_exits_non_zero_on_corrupt_data_and_logs_its_report(tmp_path: Path):
    root = flawed_image_folder(tmp_path / "images")
    done = run_train(["mode=inspect", "data=image_folder", f"data.root={root}"], tmp_path)
    assert done.returncode == 1 and "corrupt (not decoded)" in done.stdout
    assert "error: the data is broken: " in done.stderr and "corrupt (not decoded)" in done.stderr
    clean = run_train(["mode=inspect"], tmp_path)
    assert clean.returncode == 0, clean.stderr[-2000:]
    client = mlflow_client(tmp_path)
    runs = client.search_runs([client.get_experiment_by_name("sweepwise").experiment_id])
    assert sorted(run.info.status for run in runs) == ["FAILED", "FINISHED"]
    for run in runs:
        assert run.data.tags["sweepwise.role"] == "inspect"
        assert "inspect/summary.md" in {a.path for a in client.list_artifacts(run.info.run_id, "inspect")}
    digits = next(run for run in runs if run.info.status == "FINISHED")
    assert digits.data.metrics["data/samples_decoded"] == 1797
