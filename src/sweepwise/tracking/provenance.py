"""Where a run came from: git commit and dirty flag, host, package versions, command-line overrides."""

import functools
import hashlib
import importlib.metadata
import platform
import secrets
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import sweepwise
from sweepwise.tracking.secrets import redact_overrides

MAX_NAME_OVERRIDES = 60


def _git(args: Sequence[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _repository(cwd: Path, script: Path | None) -> Path | None:
    """Where the code that runs is versioned: the working folder's repository (a user's project, with its own
    models and data), else the one the script that runs is in (sweepwise's `train.py` started from another
    folder); None when neither is in one, rather than a repository whose code did not start the run."""
    for folder in (cwd, script.resolve().parent if script is not None and script.is_file() else None):
        if folder is not None and _git(["rev-parse", "--git-dir"], folder) is not None:
            return folder
    return None


def _script() -> Path | None:
    return Path(sys.argv[0]) if sys.argv and sys.argv[0] else None


def provenance_tags(overrides: Sequence[str], cwd: Path | None = None, script: Path | None = None) -> dict[str, str]:
    """Tags for a run; git fields read `unknown` when neither the working folder nor the script that runs is in
    a repository."""
    repository = _repository(cwd or Path.cwd(), script or _script())
    commit = _git(["rev-parse", "HEAD"], repository) if repository else None
    status = _git(["status", "--porcelain", "--untracked-files=no"], repository) if repository else None
    tags = {
        "sweepwise.git_commit": commit or "unknown",
        "sweepwise.git_dirty": "unknown" if status is None else str(bool(status)).lower(),
        "sweepwise.overrides": " ".join(redact_overrides(overrides)) or "(none)",
        "sweepwise.host": socket.gethostname(),
        "sweepwise.version": sweepwise.__version__,
        "sweepwise.torch_version": _torch_version(),
        "sweepwise.python_version": platform.python_version(),
    }
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


def _torch_version() -> str:
    """Torch's version as its install records it: a sweep of an app that trains without torch (or in its trials
    alone) does not import it (a second or more) to tag its parent run."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run_name(model_target: str, overrides: Sequence[str]) -> str:
    """A run's name that says what ran and differs from the next one's: the model's class, the command line's
    overrides (shortened, secrets redacted) and four hex digits drawn apart from the seeded generators, which
    would otherwise give every run of one seed the same name."""
    model = model_target.rsplit(".", 1)[-1].lower()
    shown = " ".join(redact_overrides([item for item in overrides if not item.startswith("hydra")]))
    if len(shown) > MAX_NAME_OVERRIDES:
        shown = shown[: MAX_NAME_OVERRIDES - 3] + "..."
    return " ".join(part for part in (model, shown, secrets.token_hex(2)) if part)


@functools.cache  # read once per process: a sweep fingerprints each of its model families with it
def code_version(cwd: Path | None = None) -> str:
    """A digest of the code a run executes: this package's version and source files, and the working tree's commit
    and uncommitted changes (a user's own models and data live there), so an edit anywhere changes it."""
    repository = _repository(cwd or Path.cwd(), _script())
    digest = hashlib.sha256(sweepwise.__version__.encode())
    for source in sorted(Path(sweepwise.__file__).parent.rglob("*.py")):
        digest.update(source.read_bytes())
    if repository is not None:
        for state in (_git(["rev-parse", "HEAD"], repository), _git(["diff", "HEAD"], repository)):
            digest.update((state or "").encode())
    return digest.hexdigest()[:16]
