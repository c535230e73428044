"""One parse of the config: the schema of sweepwise's config groups and the typed spec a run is validated into.

- `schema`: one dataclass per group of the app that has a schema (trainer, tracking, recipe, objective). Each is
  registered in Hydra's ConfigStore (group `sweepwise_schema`) and pulled in by a defaults entry of its YAML in
  `conf/`, so Hydra checks every value's type when it composes the config. The YAML stays the user's view and the
  one place of every value: the dataclasses declare no defaults, so a field the YAML forgets is missing, not
  silently given a second default. Their `__post_init__` holds the checks a type cannot say (ranges, choices,
  one value against another), each raising `ConfigError(key, value, reason)`.
- `run`: `run_spec(cfg)` builds a composed config into one `RunSpec` (trainer settings, objective, tracking,
  recipe, learning rate): every check runs there, once; the app, the recipe and a sweep's per-variant checks read
  the spec. `task_spec(cfg)` is what a sweep reads of its task's config, which may be another app's: only
  sections that carry sweepwise's schema are read.
- `convert`: a config node into its dataclass, and OmegaConf's type errors (at compose time or later) into the
  one-line `key=value: reason` of `ConfigError`.
- `launch`: the value checks of the sweeper's and launchers' fields, on the plugins' own config dataclasses.

This package imports nothing of sweepwise but its errors (and the plugins' config types), so every layer may
read it; importing it is cheap, as Hydra's plugin discovery imports `schema` at every start.
"""
