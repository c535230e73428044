"""Whether this user can make a folder, or a file in it, at a path: checked before anything is written, since a
study's journal, a sqlite tracking store or a sweep's folder that cannot be made would otherwise fail mid-start, in
a traceback, with the study already written."""

import tempfile
from pathlib import Path


def unmakeable_folder(folder: Path) -> str | None:
    """Why `folder` (made with its missing parents, or there already) cannot hold this user's new files, or None.
    Leaves nothing behind: the nearest existing folder is tried with a file gone as it is made."""
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder this user can write to"
    try:
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as error:
        return f"{existing} is not a folder this user can write to ({error.strerror})"
    return None


def unwritable(path: Path) -> str | None:
    """Why a new file at `path` cannot be made by this user (see `unmakeable_folder`), or None (also where the file
    exists already)."""
    return None if path.exists() else unmakeable_folder(path.absolute().parent)
