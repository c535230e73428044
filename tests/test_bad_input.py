"""Bad input stops `train.py` before training: one line naming the key and value, non-zero exit, no run left."""

from pathlib import Path

import pytest
from conftest import TINY, all_runs, run_train, write_csv, write_image_folder

pytestmark = pytest.mark.slow


def one_class_folder(tmp_path: Path) -> str:
    return str(write_image_folder(tmp_path / "one", ["only"], per_class=4))


def csv_without_label(tmp_path: Path) -> str:
    return str(write_csv(tmp_path / "t.csv", rows=20, label_column="species"))


CASES = {
    "negative lr": (lambda tmp: ["optimizer.lr=-0.1"], "optimizer.lr=-0.1"),
    "zero lr": (lambda tmp: ["optimizer.lr=0"], "optimizer.lr=0.0"),
    "zero batch size": (lambda tmp: ["trainer.batch_size=0"], "trainer.batch_size=0"),
    "val fraction above 1": (lambda tmp: ["data.val_fraction=1.5"], "data.val_fraction=1.5"),
    "val fraction 0": (lambda tmp: ["data.val_fraction=0"], "data.val_fraction=0"),
    "missing data dir": (
        lambda tmp: ["data=image_folder", f"data.root={tmp / 'nowhere'}"],
        "data.root=",
    ),
    "unknown model name": (lambda tmp: ["model=transformer"], "model='transformer'"),
    "one-class image folder": (
        lambda tmp: ["data=image_folder", f"data.root={one_class_folder(tmp)}"],
        "data.root=",
    ),
    "unknown task": (lambda tmp: ["task=evaluate"], "task='evaluate'"),
    "unknown preflight mode": (lambda tmp: ["task=preflight", "recipe.preflight=strict"], "recipe.preflight='strict'"),
    "csv without label column": (
        lambda tmp: ["data=csv", f"data.path={csv_without_label(tmp)}", "data.label_column=target"],
        "data.label_column='target'",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_one_line_and_leaves_no_run(case, tmp_path: Path):
    make_args, expected = CASES[case]
    done = run_train([*TINY, *make_args(tmp_path)], tmp_path)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip() and "mlflow.store.db.utils" not in line]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert "epoch 1/" not in done.stdout
    assert all_runs(tmp_path) == []
