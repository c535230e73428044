"""Values under secret-looking keys (password, token, secret, key) never reach MLflow: params, tags, artifacts."""

from pathlib import Path

import pytest
from helpers import TINY, mlflow_client, run_train
from sweep_helpers import run_toy, sweep_runs

from sweepwise.tracking.secrets import REDACTED, is_secret, redact, redact_overrides


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("db.password", True),
        ("hub.api_key", True),
        ("HF_TOKEN", True),
        ("aws.secret_access_key", True),
        ("credentials", True),
        ("optimizer.lr", False),
        ("data.label_column", False),
        ("trainer.checkpoint_dir", False),
        ("monkey", False),
    ],
)
def test_secret_looking_keys(key: str, secret: bool):
    assert is_secret(key) is secret


def test_redaction_of_configs_and_overrides():
    config = {"db": {"host": "h", "password": "hunter2"}, "tokens": ["a"], "lr": 0.1, "api_key": {"nested": "x"}}
    assert redact(config) == {
        "db": {"host": "h", "password": REDACTED},
        "tokens": ["a"],
        "lr": 0.1,
        "api_key": REDACTED,
    }
    assert redact_overrides(["+db.password=hunter2", "optimizer.lr=0.1", "~hub.token"]) == [
        f"+db.password={REDACTED}",
        "optimizer.lr=0.1",
        "~hub.token",
    ]


def everything_logged(client, run) -> str:
    """A run's params, tags and text artifacts, as one string to search."""
    texts = [*run.data.params.values(), *run.data.tags.values()]
    for artifact in client.list_artifacts(run.info.run_id):
        if artifact.path.endswith((".yaml", ".json", ".md")):
            texts.append(Path(client.download_artifacts(run.info.run_id, artifact.path)).read_text())
    return "\n".join(texts)


@pytest.mark.slow
def test_a_training_run_logs_no_secret(tmp_path: Path):
    done = run_train([*TINY, "+db.password=hunter2", "+hub.api_key=abc123"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    client = mlflow_client(tmp_path)
    (run,) = client.search_runs([client.get_experiment_by_name("sweepwise").experiment_id])
    assert run.data.params["db.password"] == REDACTED and run.data.params["hub.api_key"] == REDACTED
    logged = everything_logged(client, run)
    assert "config.yaml" in {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "hunter2" not in logged and "abc123" not in logged


@pytest.mark.slow
def test_a_sweep_logs_no_secret(tmp_path: Path):
    done = run_toy(["hydra.sweeper.n_trials=2", "+service.token=s3cret"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    parents, children = sweep_runs(tmp_path, "toy")
    client = mlflow_client(tmp_path)
    for run in [*parents, *children]:
        assert "s3cret" not in everything_logged(client, run)
    assert all(child.data.params["service.token"] == REDACTED for child in children)
    # nor does it print it, or keep it in its study (the journal is read by more people than the sweep)
    assert "s3cret" not in done.stdout + done.stderr
    assert b"s3cret" not in (tmp_path / "studies" / "toy.journal").read_bytes()
