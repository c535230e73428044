"""One study per sweep folder. Trial folders are named by trial number (`<hydra.sweep.dir>/<n>`), so two studies
run in one folder would share them: a trial of one would resume from the other's checkpoint and record the other's
result as its own. The first study to run in a folder marks it as its own; another study there is refused."""

import json
from pathlib import Path

from sweepwise.errors import ConfigError, hide_password

MARK = ".sweepwise-study"


def _owner(study_name: str, storage: str) -> dict[str, str]:
    return {"study": study_name, "storage": hide_password(storage)}


def check_folder_owner(folder: Path, study_name: str, storage: str) -> None:
    """Refuse a folder another study has marked as its own, before anything is written."""
    mark = folder / MARK
    if not mark.is_file():
        return
    try:
        owner = json.loads(mark.read_text())
    except (OSError, ValueError):
        return  # an unreadable mark claims nothing: this study's own replaces it
    if owner != _owner(study_name, storage):
        raise ConfigError(
            "hydra.sweep.dir",
            str(folder),
            f"holds the trial folders of study {owner.get('study')!r} ({owner.get('storage')}), which this study's "
            "trials would share: give each study its own folder, e.g. hydra.sweep.dir=multirun/"
            "${hydra.sweeper.study_name}",
        )


def mark_folder(folder: Path, study_name: str, storage: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARK).write_text(json.dumps(_owner(study_name, storage)) + "\n")
