"""Job configs of a sweep, composed once per distinct set of shared overrides and then specialised per trial.

Trials of one sweep usually differ only in searched *values* (`optimizer.lr=0.003`), while the overrides that
pick config files (`model=mlp`, `sweeps=...`) repeat. Hydra recomposes everything for every job (about 80 ms
here, more than the whole of a short trial's bookkeeping), so this keeps the composition of the config-group
overrides and applies the value overrides to a fresh copy with Hydra's own override code, then records
the job's overrides as Hydra does. Overrides that change the defaults list (config groups) always go through Hydra.
The parts of Hydra this uses beyond its public API are in `sweepwise.internals.hydra_internals`.
"""

import io
import pickle
from collections.abc import Sequence
from typing import cast

from hydra.core.config_loader import ConfigLoader
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, open_dict

from sweepwise.internals.hydra_internals import apply_overrides, is_config_group, overrides_dirname


class ConfigSnapshot:
    """A config kept as bytes and thawed into independent copies, 4x faster than `copy.deepcopy` makes them.

    Classes (the types behind structured config nodes) are kept by reference, not by name: Hydra's plugin scan
    imports plugin modules again, so a node's class may no longer be the one its module holds, which plain
    pickling rejects. Snapshots therefore only thaw in the process that took them.
    """

    def __init__(self, config: DictConfig) -> None:
        self.classes: list[type] = []
        buffer = io.BytesIO()
        _ClassKeepingPickler(buffer, self.classes).dump(config)
        self.data = buffer.getvalue()

    def thaw(self) -> DictConfig:
        config: DictConfig = _ClassKeepingUnpickler(io.BytesIO(self.data), self.classes).load()
        return config


class _ClassKeepingPickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, classes: list[type]) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self.classes = classes

    def persistent_id(self, obj: object) -> int | None:
        if isinstance(obj, type):
            self.classes.append(obj)
            return len(self.classes) - 1
        return None


class _ClassKeepingUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, classes: list[type]) -> None:
        super().__init__(file)
        self.classes = classes

    def persistent_load(self, pid: int) -> type:
        return self.classes[pid]


class SweepComposer:
    def __init__(self, config_loader: ConfigLoader, master_config: DictConfig) -> None:
        self.loader, self.master = config_loader, master_config
        self.parser = OverridesParser.create()
        self.bases: dict[tuple[str, ...], ConfigSnapshot] = {}

    def _is_value(self, override: Override) -> bool:
        """True for an override that sets a value and so cannot change which config files are composed."""
        return (
            not override.is_hydra_override()
            and override.package is None
            and not is_config_group(self.loader, override.key_or_group)
        )

    def compose(self, overrides: Sequence[str]) -> DictConfig:
        """The config Hydra's `load_sweep_config(master, overrides)` gives."""
        parsed = self.parser.parse_overrides(list(overrides))
        values = [override for override in parsed if self._is_value(override)]
        # a parsed override always keeps its input line
        shared = cast(
            tuple[str, ...], tuple(override.input_line for override in parsed if not self._is_value(override))
        )
        if shared not in self.bases:
            self.bases[shared] = ConfigSnapshot(self.loader.load_sweep_config(self.master, list(shared)))
        config = self.bases[shared].thaw()
        apply_overrides(values, config)
        task = [override for override in parsed if not override.is_hydra_override()]
        with open_dict(config.hydra):
            config.hydra.overrides.task = [override.input_line for override in task]
            config.hydra.job.override_dirname = overrides_dirname(task, config)
        return config
