"""What tests share besides fixtures: the project's paths, a tiny training config, composing the config, running
train.py and other scripts in a subprocess, reading the MLflow store a run left, writing small data sets, and
skipping (or, where CI requires every service, failing) a test whose service is absent."""

import functools
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient
from omegaconf import DictConfig
from PIL import Image

from sweepwise.spec.run import RunSpec, run_spec
from sweepwise.spec.schema import TrainerSettings

REPO = Path(__file__).resolve().parent.parent
CONF_DIR = REPO / "conf"
TRAIN_PY = REPO / "train.py"
# Small, fast settings for end-to-end runs on two CPU cores.
TINY = [
    "model=mlp",
    "model.width=32",
    "trainer.epochs=2",
    "trainer.batch_size=64",
    "trainer.progress=plain",
    "optimizer.lr=0.01",
]


def as_from_a_terminal() -> None:
    """A `preexec_fn` that lets Ctrl-C reach a command as from a terminal: a runner started in the background (a
    CI script's `&`) hands its children SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The project's config outside a Hydra app (`output_dir` defaults to a temporary folder, one for each pytest-xdist
    worker, so that tests running at once never share checkpoints)."""
    overrides = list(overrides)
    if not any(item.startswith("output_dir=") for item in overrides):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        overrides.append(f"output_dir={Path(tempfile.gettempdir()) / f'sweepwise-tests-{worker}'}")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


@functools.cache
def default_spec() -> RunSpec:
    """The default config's spec: conf/'s values, the only defaults there are."""
    return run_spec(compose_config())


def trainer_settings(**fields: object) -> TrainerSettings:
    """conf/'s trainer settings with `fields` changed, writing no checkpoints unless given a folder."""
    return replace(default_spec().trainer, **{"checkpoint_dir": None, **fields})


def run_script(
    script: Path, args: Sequence[str], cwd: Path, timeout: float = 300, python_flags: Sequence[str] = ()
) -> subprocess.CompletedProcess:
    """`python [FLAGS] SCRIPT ARGS` in `cwd`, with tests/plugins importable (custom model and data targets)."""
    command = [sys.executable, *python_flags, str(script), *args]
    return subprocess.run(command, cwd=cwd, env=script_env(), capture_output=True, text=True, timeout=timeout)


def script_env() -> dict[str, str]:
    """The environment scripts run in: this one, with tests/plugins importable and output unbuffered."""
    return {**os.environ, "PYTHONPATH": str(REPO / "tests" / "plugins"), "PYTHONUNBUFFERED": "1"}


def run_train(args: Sequence[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python train.py ARGS` in `cwd`, in a process forked from one that has imported its modules (see
    `warm_train`); while another thread of this process runs one, in a process of its own."""
    from warm_train import WarmTrain  # it imports this module

    if not _WARM_LOCK.acquire(blocking=False):
        return run_script(TRAIN_PY, args, cwd, timeout)
    try:
        if not _WARM:
            _WARM.append(WarmTrain())
        return _WARM[0].run(list(args), cwd, timeout)
    finally:
        _WARM_LOCK.release()


_WARM: list[Any] = []  # this process's `WarmTrain` server, started by its first command
_WARM_LOCK = threading.Lock()


def mlflow_client(cwd: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{cwd / 'mlflow.db'}")


def all_runs(cwd: Path, experiment: str = "sweepwise") -> list:
    """Every run of `experiment` in `cwd/mlflow.db` (none when the store or experiment does not exist)."""
    if not (cwd / "mlflow.db").exists():
        return []
    client = mlflow_client(cwd)
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


def write_image_folder(root: Path, classes: Sequence[str], per_class: int = 12, size: int = 10) -> Path:
    """Class folders of PNGs whose brightness pattern depends on the class, so a model can learn them."""
    rng = np.random.default_rng(0)
    for index, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for sample in range(per_class):
            pixels = rng.integers(0, 60, size=(size, size, 3))
            pixels[:, index * 3 : index * 3 + 3] += 180
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"{sample}.png")
    return root


def write_csv(path: Path, rows: int = 200, label_column: str = "species") -> Path:
    """Three numeric features; the label is which feature is largest (learnable by a linear model)."""
    rng = np.random.default_rng(0)
    features = rng.standard_normal((rows, 3))
    names = np.array(["a", "b", "c"])[features.argmax(axis=1)]
    lines = ["f1,f2,f3," + label_column] + [
        f"{x:.5f},{y:.5f},{z:.5f},{n}" for (x, y, z), n in zip(features, names, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


REQUIRE_SERVICES = "SWEEPWISE_REQUIRE_SERVICES"
DEFAULT_SLURM_CONF = Path("/tmp/sweepwise-slurm/slurm.conf")  # where `make slurm-up` puts the test cluster


def refusal(done: subprocess.CompletedProcess) -> str:
    """The one line a refused command printed on stderr (asserting it exited 1 and printed nothing more)."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 1, done.stderr[-3000:]
    return lines[0]


def service_missing(reason: str, whole_module: bool = False) -> None:
    """Skip a test (or `whole_module`) whose service (SLURM, a browser, an extra) is absent here; a failure where CI
    requires every service."""
    if os.environ.get(REQUIRE_SERVICES) == "1":
        pytest.fail(f"{reason} ({REQUIRE_SERVICES}=1 requires it)")
    pytest.skip(reason, allow_module_level=whole_module)


def installed_elsewhere(requirement: str) -> Path:
    """A folder holding `requirement` (e.g. `optuna==2.10.1`) installed without its dependencies, cached in
    `.cache/plugins`, for a test app to put first on its path: sweepwise's own environment stays as it is."""
    folder = REPO / ".cache" / "plugins" / requirement.replace("==", "-")
    if not (folder / ".complete").exists():
        command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(folder), requirement]
        installed = subprocess.run(command, capture_output=True, text=True)
        if installed.returncode != 0:
            service_missing(f"could not install {requirement}: {installed.stderr.strip().splitlines()[-1:]}")
        (folder / ".complete").write_text("")
    return folder


# warnings of Lightning's own under -W error: its hint to use srun (on any machine with SLURM installed) and its
# use of a pytree class torch 2.13 deprecates
LIGHTNING_STRICT = [
    "-W",
    "error",
    "-W",
    "ignore:The `srun` command is available",
    "-W",
    "ignore:`isinstance(treespec, LeafSpec)` is deprecated",
]
