"""The object a dotted path names (`package.module.function`), for the sweep's `custom_search_space`."""

import importlib
from typing import Any


def import_named(path: str) -> Any:
    """Import the modules along `path` as far as it names modules, then take the attributes after them. Any module
    name goes (a script's neighbour may be `custom-search-space.py`), and nothing is logged: Hydra's `get_method`
    logs its own error block before the sweep's one line."""
    parts = path.split(".")
    found = importlib.import_module(parts[0])
    for end in range(2, len(parts) + 1):
        try:
            found = getattr(found, parts[end - 1])
        except AttributeError:
            found = importlib.import_module(".".join(parts[:end]))
    return found
