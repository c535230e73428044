"""Job configs of a sweep, composed once per distinct set of shared overrides and then specialised per trial.

Trials of one sweep usually differ only in searched *values* (`optimizer.lr=0.003`), while the overrides that
pick config files (`model=mlp`, `sweeps=...`) repeat. Hydra recomposes everything for every job (about 80 ms
here, more than the whole of a short trial's bookkeeping), so this keeps the composition of the config-group
overrides and applies the value overrides to a copy with Hydra's own override code, then records the job's
overrides as Hydra does. Overrides that change the defaults list (config groups) always go through Hydra.
"""

import copy
from collections.abc import Sequence

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, open_dict


class SweepComposer:
    def __init__(self, config_loader: ConfigLoaderImpl, master_config: DictConfig) -> None:
        self.loader, self.master = config_loader, master_config
        self.parser = OverridesParser.create()
        self.bases: dict[tuple[str, ...], DictConfig] = {}

    def _is_value(self, override: Override) -> bool:
        """True for an override that sets a value and so cannot change which config files are composed."""
        return (
            not override.is_hydra_override()
            and override.package is None
            and not self.loader.repository.group_exists(override.key_or_group)
        )

    def compose(self, overrides: Sequence[str]) -> DictConfig:
        """The config Hydra's `load_sweep_config(master, overrides)` gives."""
        parsed = self.parser.parse_overrides(list(overrides))
        values = [override for override in parsed if self._is_value(override)]
        shared = tuple(override.input_line for override in parsed if not self._is_value(override))
        if shared not in self.bases:
            self.bases[shared] = self.loader.load_sweep_config(self.master, list(shared))
        config = copy.deepcopy(self.bases[shared])
        ConfigLoaderImpl._apply_overrides_to_config(values, config)
        task = [override for override in parsed if not override.is_hydra_override()]
        with open_dict(config.hydra):
            config.hydra.overrides.task = [override.input_line for override in task]
            config.hydra.job.override_dirname = get_overrides_dirname(
                overrides=task,
                kv_sep=config.hydra.job.config.override_dirname.kv_sep,
                item_sep=config.hydra.job.config.override_dirname.item_sep,
                exclude_keys=config.hydra.job.config.override_dirname.exclude_keys,
            )
        return config
