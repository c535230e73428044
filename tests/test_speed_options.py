"""Speed options change how a step runs, never what it computes: torch.compile and the channels-last layout train
the same model as the plain loop, within float tolerance."""

import shutil
from pathlib import Path

import pytest
import torch
from helpers import TRAIN_PY, compose_config, run_script, service_missing
from hydra.errors import ConfigCompositionException

from sweepwise.app import train, training_parts
from sweepwise.spec.convert import compose_value_error
from sweepwise.spec.run import run_spec

PLAIN = ["trainer.progress=off", "recipe.preflight=off", "trainer.epochs=2", "trainer.batch_size=32"]


def losses(overrides: list[str], folder: Path, store: Path) -> list[float]:
    train(compose_config([*PLAIN, *overrides, f"output_dir={folder}", f"tracking.uri=sqlite:///{store}"]))
    history = torch.load(folder / "checkpoints" / "last.pt", weights_only=False)["train_state"]["history"]
    return [epoch[key] for epoch in history for key in ("train/loss", "val/loss")]


@pytest.mark.parametrize(
    ("model", "option"),
    [
        (["data=synthetic", "model=mlp"], "trainer.compile=true"),
        (["model=convnet", "model.width=8"], "trainer.channels_last=true"),
    ],
    ids=["compile", "channels-last"],
)
@pytest.mark.slow  # two trainings each, one of them compiled
def test_a_speed_option_trains_the_same_model(model: list[str], option: str, tmp_path: Path):
    if option == "trainer.compile=true" and shutil.which("g++") is None:
        service_missing("no C++ compiler: torch.compile's CPU backend needs g++ (Debian's g++ package)")
    store = tmp_path / "mlflow.db"
    plain = losses(model, tmp_path / "plain", store)
    torch._dynamo.reset()
    optioned = losses([*model, option], tmp_path / "optioned", store)
    assert optioned == pytest.approx(plain, rel=1e-3)
    assert plain[-2] < plain[0]  # the training loss fell: the match means something
    if option == "trainer.compile=true":
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # the steps ran compiled


@pytest.mark.slow
def test_a_compiled_run_ends_normally_under_w_error(tmp_path: Path):
    """torch.compile's CPU backend imports a module of torch's that warns about itself; a user's harness running
    the app under `-W error` must still see the run complete."""
    if shutil.which("g++") is None:
        service_missing("no C++ compiler: torch.compile's CPU backend needs g++ (Debian's g++ package)")
    args = [*PLAIN, "data=synthetic", "model=mlp", "trainer.epochs=1", "trainer.compile=true", "output_dir=out"]
    done = run_script(TRAIN_PY, [*args, "tracking.uri=sqlite:///mlflow.db"], tmp_path, python_flags=("-W", "error"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "out" / "checkpoints" / "last.pt").is_file()


def test_channels_last_lays_out_an_image_models_weights_channels_last():
    cfg = compose_config(["model=convnet", "model.width=8", "trainer.channels_last=true"])
    model = training_parts(cfg, run_spec(cfg), torch.device("cpu")).model
    convolutions = [module.weight for module in model.modules() if isinstance(module, torch.nn.Conv2d)]
    assert convolutions and all(w.is_contiguous(memory_format=torch.channels_last) for w in convolutions)
    assert not all(w.is_contiguous() for w in convolutions)  # not merely contiguous both ways (1x1 kernels)


@pytest.mark.parametrize("key", ["trainer.compile", "trainer.channels_last"])
def test_a_speed_option_must_be_true_or_false(key: str):
    """The schema refuses it as the config is composed, before anything runs."""
    with pytest.raises(ConfigCompositionException) as refused:
        compose_config([*PLAIN, f"{key}=maybe"])
    assert str(compose_value_error(refused.value)) == f"{key}='maybe': must be true or false"
