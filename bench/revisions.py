"""Another git revision of this project, checked out beside the working tree for a bench to run alternately with
it: a machine's speed of the hour then weighs on both alike."""

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def checked_out(revision: str | None) -> Iterator[Path | None]:
    """The tree of `revision` in a temporary worktree (None: no revision asked for), removed afterwards."""
    if revision is None:
        yield None
        return
    with tempfile.TemporaryDirectory() as worktrees:
        tree = Path(worktrees) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), revision], check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)


def code_env(code: Path) -> dict[str, str]:
    """The environment that runs the tree at `code` with this environment's packages."""
    return {**os.environ, "PYTHONPATH": str(code / "src")}
