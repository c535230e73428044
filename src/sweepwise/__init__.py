"""sweepwise: Hydra-configured hyperparameter sweeps for PyTorch, following the recipe for training networks.

Training code reports to the sweep it runs in through `current_trial()` (see `sweepwise.trial_api`); the rest of
the package is the sweep's machinery. The trial API loads on first use, so that Hydra's plugin scan, which imports
this package, stays cheap.
"""

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["Trial", "TrialClosed", "TrialPruned", "current_trial"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("sweepwise.trial_api"), name)
    raise AttributeError(f"module 'sweepwise' has no attribute {name!r}")
