"""The sweep's schedule (`hydra/sweeper/schedule`), checked: which reported steps pause a trial, so that its slot
goes to another and its work goes on later from its checkpoint.

Asynchronous successive halving (ASHA) pauses each trial at its rungs, the first step it reports at or past
`min_resource * reduction_factor**k` steps (epochs, for sweepwise's training), and resumes it to the next rung once
the rung's top `1 / reduction_factor` includes it. A trial's last step never pauses it: its training is done.

Population-based training (PBT) pauses every trial each `interval` steps. Once the whole population has reached a
generation, each member in its bottom `quantile` copies the checkpoint of one in its top quantile (exploit) and goes
on from it with that member's hyperparameters perturbed (explore); the others go on with their own.
"""

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sweepwise.errors import ConfigError
from sweepwise.spec.launch import bounded

KEY = "hydra.sweeper.schedule"
NONE, ASHA, PBT = "none", "asha", "pbt"
NAMES = (NONE, ASHA, PBT)


@dataclass(frozen=True)
class Asha:
    """Asynchronous successive halving that pauses trials at their rungs instead of stopping them."""

    min_resource: int = 1
    reduction_factor: int = 3

    @property
    def first_pause(self) -> int:
        """The step at which a trial first pauses (unless it is its last)."""
        return self.min_resource

    def budget(self, rung: int) -> int:
        """The steps a trial has trained once it reaches `rung` (0: the first)."""
        return int(self.min_resource * self.reduction_factor**rung)

    def crossed(self, previous: int, step: int) -> int | None:
        """The rung a trial reaches on reporting `step` after `previous` (0: its first report), if it reaches one."""
        rung = self.rung_reached(step)
        return rung if rung > self.rung_reached(previous) else None

    def rung_reached(self, step: int) -> int:
        """The highest rung a trial that has trained `step` steps has reached (-1: none yet)."""
        rung = -1
        while self.budget(rung + 1) <= step:
            rung += 1
        return rung

    def as_facts(self) -> dict[str, Any]:
        """What a trial's process needs of the schedule: plain data, shipped with its job."""
        return {"name": ASHA, **asdict(self)}

    def describe(self) -> str:
        rungs = ", ".join(str(self.budget(rung)) for rung in range(4))
        top = f"1/{self.reduction_factor}"
        return f"schedule asha: trials pause at steps {rungs}, ...; one in its rung's top {top} goes on to the next"


@dataclass(frozen=True)
class Pbt:
    """Population-based training: every member pauses each `interval` steps; the generation's bottom `quantile`
    copies a top member's checkpoint and perturbs its hyperparameters. `mutable`: the searched keys that may change
    mid-training (None: for sweepwise's training, its optimiser, dropout, augmentation and clipping settings; for
    another app, every searched key, which its code applies on resuming)."""

    interval: int = 1
    quantile: float = 0.25
    perturb_factors: tuple[float, ...] = (0.8, 1.2)
    resample_probability: float = 0.25
    seed: int = 0
    mutable: tuple[str, ...] | None = None

    @property
    def first_pause(self) -> int:
        """The step at which a member first pauses (unless it is its last)."""
        return self.interval

    def budget(self, generation: int) -> int:
        """The steps a member has trained once it reaches `generation` (1: the first interval done)."""
        return generation * self.interval

    def crossed(self, previous: int, step: int) -> int | None:
        """The generation a member reaches on reporting `step` after `previous`, if it reaches one."""
        generation = step // self.interval
        return generation if generation > previous // self.interval else None

    def as_facts(self) -> dict[str, Any]:
        facts = asdict(self)
        return {"name": PBT, **facts, "perturb_factors": list(self.perturb_factors), "mutable": _listed(self.mutable)}

    def describe(self) -> str:
        factors = "/".join(f"x{factor:g}" for factor in self.perturb_factors)
        steps = f"{self.interval} step{'s' * (self.interval > 1)}"
        return (
            f"schedule pbt: the n_trials members pause every {steps}; once all have, the bottom {self.quantile:.0%} go "
            f"on from a top member's checkpoint with its hyperparameters {factors} (or redrawn, at "
            f"p={self.resample_probability:g})"
        )


Schedule = Asha | Pbt


def _listed(keys: tuple[str, ...] | None) -> list[str] | None:
    return list(keys) if keys is not None else None


def schedule_of(node: Any) -> Schedule | None:
    """The schedule a sweeper config's `schedule` node names (None: `none`), its fields checked."""
    if node is None:
        return None
    if not isinstance(node, Mapping):
        raise ConfigError(KEY, node, f"must be a schedule config: hydra/sweeper/schedule={' or '.join(NAMES)}")
    name = node.get("name", NONE)
    if name not in NAMES:
        raise ConfigError(f"{KEY}.name", name, f"must be {', '.join(NAMES[:-1])} or {NAMES[-1]}")
    unknown = sorted(set(node) - {"name", *Asha.__dataclass_fields__, *Pbt.__dataclass_fields__})
    if unknown:
        raise ConfigError(f"{KEY}.{unknown[0]}", node[unknown[0]], f"is no field of the {name} schedule")
    if name == NONE:
        return None
    kind: type[Asha] | type[Pbt] = Asha if name == ASHA else Pbt
    # another schedule's fields, set by a sweep file written for it, are left aside
    fields = {key: value for key, value in node.items() if key in kind.__dataclass_fields__}
    if kind is Asha:
        return Asha(
            min_resource=bounded(f"{KEY}.min_resource", fields.get("min_resource", 1), 1),
            reduction_factor=bounded(f"{KEY}.reduction_factor", fields.get("reduction_factor", 3), 2),
        )
    return _pbt(fields)


def check_typed_fields(node: Any, hydra_overrides: Iterable[str]) -> None:
    """Refuse, in one line, a schedule field typed on the command line that the chosen schedule does not have
    (another schedule's fields a sweep file sets are left aside: the file was written for that schedule)."""
    name = node.get("name", NONE) if isinstance(node, Mapping) else NONE
    fields = {NONE: set(), ASHA: set(Asha.__dataclass_fields__), PBT: set(Pbt.__dataclass_fields__)}.get(name, set())
    for override in hydra_overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key.startswith(f"{KEY}.") and key.removeprefix(f"{KEY}.") not in {"name", *fields}:
            raise ConfigError(key, value, f"is no setting of the {name} schedule this sweep runs")


def _pbt(fields: Mapping[str, Any]) -> Pbt:
    quantile = fields.get("quantile", 0.25)
    if not _is_number(quantile) or not 0 < quantile <= 0.5:
        raise ConfigError(f"{KEY}.quantile", quantile, "must be a number in (0, 0.5]: the bottom and top fractions")
    factors = fields.get("perturb_factors", [0.8, 1.2])
    numbers = isinstance(factors, list | tuple) and all(
        isinstance(f, int | float) and not isinstance(f, bool) for f in factors
    )
    if not numbers or not factors or min(factors) <= 0:
        raise ConfigError(f"{KEY}.perturb_factors", factors, "must be a list of numbers > 0")
    mutable = fields.get("mutable")
    if mutable is not None and (not isinstance(mutable, list | tuple) or not all(isinstance(k, str) for k in mutable)):
        raise ConfigError(f"{KEY}.mutable", mutable, "must be a list of searched keys, or null")
    return Pbt(
        interval=bounded(f"{KEY}.interval", fields.get("interval", 1), 1),
        quantile=float(quantile),
        perturb_factors=tuple(float(factor) for factor in factors),
        resample_probability=float(
            bounded(f"{KEY}.resample_probability", fields.get("resample_probability", 0.25), 0, 1, integer=False)
        ),
        seed=bounded(f"{KEY}.seed", fields.get("seed", 0), 0),
        mutable=tuple(mutable) if mutable is not None else None,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def schedule_from_facts(facts: Mapping[str, Any] | None) -> Schedule | None:
    """The schedule `as_facts` shipped to a trial's process."""
    if not facts:
        return None
    return schedule_of(facts)
