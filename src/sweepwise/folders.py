"""Whether this user can make a file at a path, checked before anything is written: a study's journal or a sqlite
tracking store whose folder cannot be made or written would otherwise fail mid-start, in a traceback."""

import tempfile
from pathlib import Path


def unwritable(path: Path) -> str | None:
    """Why a new file at `path` (its missing folders made first) cannot be made by this user, or None (also where it
    exists already). Leaves nothing behind: the nearest existing folder is tried with a file gone as it is made."""
    path = path.absolute()
    if path.exists():
        return None
    existing = path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder this user can write to"
    try:
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as error:
        return f"{existing} is not a folder this user can write to ({error.strerror})"
    return None
