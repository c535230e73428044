"""Where studies live: an Optuna journal file by default (safe on clusters' shared filesystems), or a database."""

import functools
from pathlib import Path

import optuna
import sqlalchemy.exc
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from sweepwise.errors import ConfigError

DATABASE_SCHEMES = ("sqlite:", "postgresql", "mysql")
DEFAULT_FOLDER = "studies"


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


@functools.cache
def open_storage(spec: str) -> BaseStorage:
    """The Optuna storage behind a spec, one per process (a new journal storage would replay the whole file);
    journal files get lock files that work on NFS."""
    if spec.startswith(DATABASE_SCHEMES):
        try:
            return RDBStorage(spec)
        except (
            optuna.exceptions.StorageInternalError,
            sqlalchemy.exc.SQLAlchemyError,
            ImportError,
            ValueError,
        ) as error:
            raise ConfigError("hydra.sweeper.storage", spec, f"cannot open ({error})") from error
    path = Path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
