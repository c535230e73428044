"""The code's layout rules that import-linter cannot state: every module fits on a few screens, and every file's
name tells it apart without its folder."""

from collections import Counter
from pathlib import Path

SOURCES = Path(__file__).resolve().parent.parent / "src"
MAX_LINES = 300


def modules() -> list[Path]:
    return sorted(SOURCES.rglob("*.py"))


def test_no_module_is_longer_than_300_lines() -> None:
    long = {
        str(path.relative_to(SOURCES)): n for path in modules() if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules by the stage they serve: {long}"


def test_file_names_tell_the_files_apart_without_their_folder() -> None:
    names = Counter(path.name for path in modules() if path.name != "__init__.py")
    repeated = sorted(name for name, count in names.items() if count > 1)
    assert not repeated, f"name each file for what it holds: {repeated}"
