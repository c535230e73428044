"""Where studies live: an Optuna journal file by default (safe on clusters' shared filesystems), or a database."""

import functools
import json
import os
import sys
from pathlib import Path

import optuna
import sqlalchemy.exc
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from sweepwise.databases import with_driver
from sweepwise.errors import ConfigError, first_line
from sweepwise.folders import unwritable

DATABASE_SCHEMES = ("sqlite:", "postgresql", "mysql")
DEFAULT_FOLDER = "studies"
TORN_SUFFIX = ".torn"


def storage_spec(storage: str | None, study_name: str, base_dir: Path) -> str:
    """A picklable description of the storage: a database URL, or the absolute path of a journal file."""
    if storage is None:
        return str((base_dir / DEFAULT_FOLDER / f"{study_name}.journal").resolve())
    if storage.startswith(DATABASE_SCHEMES):
        return storage
    if "://" in storage:
        raise ConfigError(
            "hydra.sweeper.storage", storage, "not a journal file path nor a sqlite:, postgresql or mysql URL"
        )
    return str(Path(storage).expanduser().resolve())


def check_storage(spec: str) -> None:
    """Stop before anything is written when the storage cannot hold the study: a database that does not answer,
    or a journal whose folder cannot be created or written. Creates nothing."""
    if spec.startswith(DATABASE_SCHEMES):
        open_storage(spec)
        return
    problem = unwritable(Path(spec))
    if problem:
        raise ConfigError("hydra.sweeper.storage", spec, problem)


@functools.cache
def open_storage(spec: str) -> BaseStorage:
    """The Optuna storage behind a spec, one per process (a new journal storage would replay the whole file);
    journal files get lock files that work on NFS."""
    if spec.startswith(DATABASE_SCHEMES):
        try:
            return RDBStorage(with_driver(spec))
        except (
            optuna.exceptions.StorageInternalError,
            sqlalchemy.exc.SQLAlchemyError,
            ImportError,
            ValueError,
        ) as error:
            raise ConfigError("hydra.sweeper.storage", spec, f"cannot open ({first_line(error)})") from error
    path = Path(spec)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError("hydra.sweeper.storage", spec, f"cannot create its folder ({error.strerror})") from error
    lock = JournalFileOpenLock(str(path))
    repaired = repair_torn_tail(path, lock)
    if repaired:
        print(f"warning: {repaired}", file=sys.stderr, flush=True)
    return JournalStorage(JournalFileBackend(str(path), lock_obj=lock))


def _ends_torn(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as journal:
        journal.seek(-1, os.SEEK_END)
        return journal.read(1) != b"\n"


def repair_torn_tail(path: Path, lock: JournalFileOpenLock) -> str | None:
    """Mend a journal whose last line a killed writer left without its newline; say what was done, if anything.

    Optuna skips such a line when it reads, but appends the next record right after it, and that makes the whole
    file unreadable. Under the journal's lock (a writer holds it while it appends): a complete record gets its
    newline; a partial one is moved to `<journal>.torn`, so the records before it, every finished trial among
    them, stay readable.
    """
    if not _ends_torn(path):
        return None
    lock.acquire()
    try:
        if not _ends_torn(path):  # it was a writer midway through its line
            return None
        data = path.read_bytes()
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        try:
            json.loads(tail)
        except ValueError:
            with open(f"{path}{TORN_SUFFIX}", "ab") as torn:
                torn.write(tail + b"\n")
            os.truncate(path, cut)
            return f"{path}: its last line was cut short ({len(tail)} bytes); moved it to {path}{TORN_SUFFIX}"
        with open(path, "ab") as journal:
            journal.write(b"\n")
        return f"{path}: its last record lacked its line end; completed it"
    finally:
        lock.release()
