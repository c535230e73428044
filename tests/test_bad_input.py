"""The bad-input corpus: malformed overrides, config files, search spaces, data, storage URLs and launcher fields.

Each is run against a folder holding a finished sweep: it must exit non-zero with one `error:` line naming the
culprit, print no traceback, and leave the study, the MLflow store and its artifacts byte for byte as they were.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import run_train, write_csv, write_image_folder
from reliability import record

pytestmark = [pytest.mark.slow, pytest.mark.reliability]
SWEEP = ["-m", "sweeps=random_lr_wd", "hydra.sweeper.n_trials=2", "trainer.epochs=1", "data=synthetic", "model=linear"]
RUN = ["trainer.epochs=1", "trainer.progress=plain"]


@dataclass(frozen=True)
class Bad:
    """A malformed input: the arguments that carry it (`{files}` is the folder of prepared bad files), whether it
    is given to a sweep, and what its error line must name."""

    kind: str
    args: list[str]
    named: str
    sweep: bool = False

    def command(self, files: Path) -> list[str]:
        args = [arg.replace("{files}", str(files)) for arg in self.args]
        flags = args[:2] if args[0].startswith("-") else []  # Hydra's flags come before the overrides
        return [*flags, *(SWEEP if self.sweep else RUN), *args[len(flags) :]]


CORPUS = {
    # overrides
    "negative learning rate": Bad("override", ["optimizer.lr=-0.1"], "optimizer.lr=-0.1"),
    "zero learning rate": Bad("override", ["optimizer.lr=0"], "optimizer.lr=0.0"),
    "zero batch size": Bad("override", ["trainer.batch_size=0"], "trainer.batch_size=0"),
    "step budget not a number": Bad("override", ["trainer.max_steps=abc"], "trainer.max_steps='abc'"),
    "unknown model": Bad("override", ["model=gpt"], "model='gpt'"),
    "unknown task": Bad("override", ["task=evaluate"], "task='evaluate'"),
    "unknown preflight mode": Bad("override", ["mode=preflight", "recipe.preflight=strict"], "recipe.preflight"),
    "unknown device": Bad("override", ["trainer.device=tpu"], "trainer.device='tpu'"),
    "a loss maximised": Bad("override", ["objective.metric=val/loss", "objective.direction=maximize"], "val/loss is"),
    "negative step logging": Bad("override", ["tracking.log_every_n_steps=-1"], "tracking.log_every_n_steps=-1"),
    "unknown retry setting": Bad("override", ["+tracking.retry.forever=1"], "tracking.retry.forever"),
    "unparsable override": Bad("override", ["optimizer.lr=interval("], "'optimizer.lr=interval('"),
    "misspelt key": Bad("override", ["trainer.epoch=3"], "trainer.epoch"),
    "interpolation to nothing": Bad("override", ["optimizer.lr=${nope}"], "optimizer.lr"),
    "target that does not exist": Bad("override", ["model._target_=os.nope"], "model._target_='os.nope'"),
    # config files (in a user's config folder, added with --config-dir)
    "sweep file with broken YAML": Bad("config file", ["-cd", "{files}/conf", "sweeps=broken"], "broken.yaml, line 4"),
    "sweep file with a misspelt key": Bad("config file", ["-cd", "{files}/conf", "sweeps=misspelt"], "n_trial"),
    "model file with a bad target": Bad(
        "config file", ["-cd", "{files}/conf", "model=nowhere"], "sweepwise.models.Nope"
    ),
    "defaults naming a missing file": Bad("config file", ["-cd", "{files}/conf", "sweeps=lost"], "model/missing_one"),
    # search spaces
    "low above high": Bad("search space", ["optimizer.lr=interval(0.1, 0.001)"], "low 0.1 is above high 0.001", True),
    "log scale from zero": Bad("search space", ["optimizer.lr=tag(log, interval(0, 0.1))"], "needs low > 0", True),
    "unknown parameter": Bad("search space", ["optimizer.lrr=interval(0.1, 0.2)"], "optimizer.lrr", True),
    # a sampler's or pruner's value its class refuses, met before the study is written
    "sampler seed of text": Bad(
        "sweeper", ["hydra.sweeper.sampler.seed=abc"], "hydra.sweeper.sampler.seed='abc'", True
    ),
    "negative pruner warm-up": Bad(
        "sweeper", ["hydra.sweeper.pruner.n_warmup_steps=-1"], "hydra.sweeper.pruner.n_warmup_steps=-1: ", True
    ),
    "custom search space that cannot be imported": Bad(
        "sweeper",
        ["hydra.sweeper.custom_search_space=nomodule.space"],
        "hydra.sweeper.custom_search_space='nomodule.space': cannot be imported (No module named 'nomodule')",
        True,
    ),
    "custom search space that raises": Bad(
        "sweeper",
        ["hydra.sweeper.custom_search_space=bad_spaces.misspelt_key"],
        "hydra.sweeper.custom_search_space='bad_spaces.misspelt_key': raised ConfigAttributeError: Key 'widht' is "
        "not in struct",
        True,
    ),
    "unknown option in a choice": Bad("search space", ["model=choice(mlp, gpt)"], "model/gpt", True),
    "sampler Optuna removed": Bad("search space", ["hydra/sweeper/sampler=motpe"], "removed in Optuna 4.0", True),
    "unknown sampler": Bad("search space", ["hydra/sweeper/sampler=bayes"], "hydra/sweeper/sampler='bayes'", True),
    "sampler seed not a number": Bad(
        "search space", ["hydra.sweeper.sampler.seed=abc"], "hydra.sweeper.sampler.seed='abc': must be a whole", True
    ),
    "sampler target that does not exist": Bad(
        "search space", ["hydra.sweeper.sampler._target_=optuna.samplers.Nope"], "hydra.sweeper.sampler", True
    ),
    "unknown pruner": Bad("search space", ["hydra/sweeper/pruner=patient"], "hydra/sweeper/pruner='patient'", True),
    "pruner target that does not exist": Bad(
        "search space", ["hydra.sweeper.pruner._target_=optuna.pruners.Nope"], "hydra.sweeper.pruner", True
    ),
    "schedule halving by a factor of 1": Bad(
        "sweeper",
        ["hydra/sweeper/schedule=asha", "hydra.sweeper.schedule.reduction_factor=1"],
        "hydra.sweeper.schedule.reduction_factor=1: must be an integer >= 2",
        True,
    ),
    "pbt over a batch size": Bad(
        "sweeper",
        ["hydra/sweeper/schedule=pbt"],
        "hydra.sweeper.params.trainer.batch_size='choice(32, 64, 128)': cannot",
        True,
    ),
    "pbt quantile above a half": Bad(
        "sweeper",
        ["sweeps=regularize", "hydra/sweeper/schedule=pbt", "hydra.sweeper.schedule.quantile=0.7"],
        "hydra.sweeper.schedule.quantile=0.7: must be a number in (0, 0.5]",
        True,
    ),
    "a setting of another schedule": Bad(
        "sweeper",
        ["sweeps=pbt", "hydra/sweeper/schedule=asha", "hydra.sweeper.schedule.interval=2"],
        "hydra.sweeper.schedule.interval='2': is no setting of the asha schedule",
        True,
    ),
    "unknown schedule": Bad(
        "sweeper", ["hydra/sweeper/schedule=hyperband"], "hydra/sweeper/schedule='hyperband'", True
    ),
    "direction against the objective": Bad(
        "search space", ["hydra.sweeper.direction=minimize"], "disagrees with objective.direction", True
    ),
    # data folders and CSV files
    "validation fraction above 1": Bad("data", ["data.val_fraction=1.5"], "data.val_fraction=1.5"),
    "image folder that does not exist": Bad("data", ["data=image_folder", "data.root={files}/nowhere"], "data.root="),
    "image folder without a root": Bad("data", ["data=image_folder"], "data.root"),
    "image folder of one class": Bad("data", ["data=image_folder", "data.root={files}/one_class"], "data.root="),
    "image folder with a corrupt file": Bad("data", ["data=image_folder", "data.root={files}/corrupt"], "bad.png"),
    "CSV without the label column": Bad(
        "data", ["data=csv", "data.path={files}/table.csv", "data.label_column=target"], "data.label_column='target'"
    ),
    "CSV with text in a feature": Bad("data", ["data=csv", "data.path={files}/text.csv"], "data.feature_columns='f1'"),
    "CSV with a header only": Bad("data", ["data=csv", "data.path={files}/empty.csv"], "has a header but no rows"),
    "CSV with a row missing its label": Bad("data", ["data=csv", "data.path={files}/ragged.csv"], "on lines [3]"),
    # met by a new sweep's preflight, before its study (a new journal file) or its parent run is written
    "CSV without the label column, in a new sweep": Bad(
        "data",
        ["data=csv", "data.path={files}/table.csv", "data.label_column=target", "hydra.sweeper.study_name=fresh"],
        "data.label_column='target'",
        True,
    ),
    "image folder that does not exist, in a new sweep": Bad(
        "data", ["data=image_folder", "data.root={files}/nowhere", "hydra.sweeper.study_name=fresh"], "data.root=", True
    ),
    # storage URLs
    "study storage of an unknown kind": Bad("storage", ["hydra.sweeper.storage=redis://x"], "redis://x", True),
    "sqlite study in a missing folder": Bad(
        "storage", ["hydra.sweeper.storage=sqlite:////nonexistent/x.db"], "hydra.sweeper.storage=", True
    ),
    "study database that does not answer": Bad(
        "storage", ["hydra.sweeper.storage=postgresql://u@127.0.0.1:1/db"], "hydra.sweeper.storage=", True
    ),
    "tracking URI of an unknown kind": Bad("storage", ["tracking.uri=ftp://x"], "tracking.uri='ftp://x'"),
    "tracking URI as a plain folder": Bad("storage", ["tracking.uri=mlruns"], "tracking.uri='mlruns'"),
    "tracking server that does not answer": Bad(
        "storage", ["tracking.uri=http://127.0.0.1:9"], "tracking.uri='http://127.0.0.1:9': no MLflow tracking", True
    ),
    "sqlite tracking store under a file": Bad(
        "storage", ["tracking.uri=sqlite:///{files}/table.csv/mlflow.db"], "table.csv is not a folder this user can"
    ),
    "sqlite tracking store under a file, in a sweep": Bad(
        "storage", ["tracking.uri=sqlite:///{files}/table.csv/mlflow.db"], "tracking.uri='sqlite:///", True
    ),
    "sweep folder that is a file": Bad(
        "storage", ["hydra.sweeper.study_name=new", "hydra.sweep.dir={files}/table.csv"], "hydra.sweep.dir='", True
    ),
    "sweep folder under a file": Bad(
        "storage",
        ["hydra.sweeper.study_name=new", "hydra.sweep.dir={files}/table.csv/sweep"],
        "table.csv is not a folder this user can write",
        True,
    ),
    "study journal under a file": Bad(
        "storage", ["hydra.sweeper.storage={files}/table.csv/s.journal"], "table.csv is not a folder this user", True
    ),
    # a folder no file can be made in, whoever the user is (root included)
    **(
        {
            "study journal where no file can be made": Bad(
                "storage", ["hydra.sweeper.storage=/proc/s.journal"], "/proc is not a folder this user can write", True
            ),
            "sqlite tracking store where no file can be made": Bad(
                "storage", ["tracking.uri=sqlite:////proc/mlflow.db"], "/proc is not a folder this user can write"
            ),
        }
        if Path("/proc/self").is_dir()
        else {}
    ),
    # launcher and sweeper fields
    "no parallel slots": Bad("launcher", ["hydra.sweeper.n_jobs=0"], "hydra.sweeper.n_jobs=0", True),
    "negative retries": Bad("launcher", ["hydra.sweeper.retries=-1"], "hydra.sweeper.retries=-1", True),
    "failure rate above 1": Bad("launcher", ["hydra.sweeper.max_failure_rate=2"], "max_failure_rate=2.0", True),
    "unknown launcher": Bad("launcher", ["hydra/launcher=nope"], "hydra/launcher/nope", True),
    "unknown launcher field": Bad("launcher", ["hydra.launcher.gpus=2"], "hydra.launcher.gpus", True),
    "SLURM time limit of 0": Bad(
        "launcher", ["hydra/launcher=slurm", "hydra.launcher.timeout_min=0"], "hydra.launcher.timeout_min=0", True
    ),
    "negative GPUs per node": Bad(
        "launcher", ["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=-1"], "gpus_per_node=-1", True
    ),
}

SWEEP_FILES = {
    "broken": "# @package _global_\nhydra:\n  sweeper:\n    params: {optimizer.lr: interval(0.1, 1)\n",
    "misspelt": (
        "# @package _global_\ndefaults:\n  - override /hydra/sweeper: optuna\n"
        "hydra:\n  sweeper:\n    n_trial: 5\n    params:\n      optimizer.lr: interval(0.001, 0.1)\n"
    ),
    "lost": "# @package _global_\ndefaults:\n  - override /model: missing_one\n",
}


def write_bad_files(folder: Path) -> None:
    """The config files, image folders and CSV files the corpus points to."""
    (folder / "conf" / "sweeps").mkdir(parents=True)
    (folder / "conf" / "model").mkdir()
    for name, text in SWEEP_FILES.items():
        (folder / "conf" / "sweeps" / f"{name}.yaml").write_text(text)
    (folder / "conf" / "model" / "nowhere.yaml").write_text("_target_: sweepwise.models.Nope\n")
    write_image_folder(folder / "one_class", ["only"], per_class=4)
    write_image_folder(folder / "corrupt", ["a", "b"], per_class=4)
    (folder / "corrupt" / "a" / "bad.png").write_bytes(b"not a png")
    write_csv(folder / "table.csv", rows=20, label_column="species")
    (folder / "text.csv").write_text("f1,f2,label\n1,2,a\nx,3,b\n4,5,a\n")
    (folder / "empty.csv").write_text("f1,f2,label\n")
    (folder / "ragged.csv").write_text("f1,f2,label\n1,2,a\n3,4\n4,5,b\n")


@pytest.fixture(scope="module")
def existing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a folder holding a finished sweep's study and MLflow store, the folder of bad files)"""
    cwd = tmp_path_factory.mktemp("existing")
    done = run_train([*SWEEP[1:], "recipe.preflight=off", "trainer.progress=plain"], cwd)
    assert done.returncode == 0, done.stderr
    files = tmp_path_factory.mktemp("bad_files")
    write_bad_files(files)
    return cwd, files


def fingerprint(cwd: Path) -> dict[str, str]:
    """A digest of every file of the stores: the study journal, the MLflow database and its artifacts."""
    stores = [cwd / "mlflow.db", *sorted((cwd / "studies").glob("*")), *sorted((cwd / "mlruns").rglob("*"))]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in stores if path.is_file()}


def shown(args: list[str]) -> str:
    return " ".join(args).replace("{files}", "FILES")


@pytest.mark.parametrize("name", CORPUS)
def test_bad_input_gives_one_line_naming_it_and_touches_nothing(name: str, existing: tuple[Path, Path]):
    cwd, files = existing
    bad = CORPUS[name]
    before = fingerprint(cwd)
    done = run_train(bad.command(files), cwd)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    (line,) = lines
    assert line.startswith("error: ") and bad.named in line, line
    assert "Traceback" not in done.stdout + done.stderr
    assert "epoch 1/" not in done.stdout and "started" not in done.stdout
    assert fingerprint(cwd) == before
    record(
        "bad input",
        f"{bad.kind}: {name} (`{shown(bad.args)}`{', in a sweep' if bad.sweep else ''})",
        f"exit {done.returncode}: `{line.replace(str(files), 'FILES')}`",
        "nothing: the study, MLflow database and artifacts are byte for byte the same",
    )


def test_the_corpus_covers_every_kind_of_input():
    kinds = {bad.kind for bad in CORPUS.values()}
    assert kinds == {"override", "config file", "search space", "sweeper", "data", "storage", "launcher"}
    assert len(CORPUS) >= 25
    assert any(bad.kind == "data" and bad.sweep for bad in CORPUS.values())
