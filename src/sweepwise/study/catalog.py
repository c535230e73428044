"""The studies kept in a folder's default place (`studies/<name>.journal`), most recent first, for commands that
take a study by name and default to the latest one (`make ensemble`, `make dashboard`):

    python -m sweepwise.study.catalog name [NAME]      # NAME if it exists, else the latest study's name
    python -m sweepwise.study.catalog journal [NAME]   # the same study's journal file

A name that does not exist ends with one line listing the studies that do.
"""

import argparse
from pathlib import Path

from sweepwise.study.storage import DEFAULT_FOLDER


def local_studies(base_dir: Path) -> list[Path]:
    """The journal files of `base_dir/studies`, most recently written first."""
    journals = (base_dir / DEFAULT_FOLDER).glob("*.journal")
    return sorted(journals, key=lambda path: path.stat().st_mtime, reverse=True)


def missing_study(name: str | None, base_dir: Path) -> str:
    """The one line for a study that is not there, naming those that are."""
    names = [path.stem for path in local_studies(base_dir)]
    folder = base_dir / DEFAULT_FOLDER
    here = f"studies here, latest first: {', '.join(names)}" if names else "no study there yet: run a sweep first"
    wanted = f"no study {name!r} in {folder}" if name else f"no study in {folder}"
    return f"error: {wanted} ({here})"


def find_study(name: str | None, base_dir: Path) -> Path:
    """The journal of study `name`, or of the latest study when `name` is empty; SystemExit with the list when
    there is none."""
    journals = local_studies(base_dir)
    found = [path for path in journals if path.stem == name] if name else journals[:1]
    if not found:
        raise SystemExit(missing_study(name, base_dir))
    return found[0]


def main() -> None:
    parser = argparse.ArgumentParser(description="the studies in ./studies, latest first")
    parser.add_argument("what", choices=("name", "journal"))
    parser.add_argument("study", nargs="?", default="", help="a study's name (default: the latest study)")
    args = parser.parse_args()
    journal = find_study(args.study or None, Path.cwd())
    print(journal.stem if args.what == "name" else journal)


if __name__ == "__main__":
    main()
