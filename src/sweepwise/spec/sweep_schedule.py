"""The sweep's schedule (`hydra/sweeper/schedule`), checked: which reported steps pause a trial, so that its slot
goes to another and its work goes on later from its checkpoint.

Asynchronous successive halving (ASHA) pauses each trial at its rungs, the first step it reports at or past
`min_resource * reduction_factor**k` steps (epochs, for sweepwise's training), and resumes it to the next rung once
the rung's top `1 / reduction_factor` includes it. A trial's last step never pauses it: its training is done.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sweepwise.errors import ConfigError
from sweepwise.spec.launch import bounded

KEY = "hydra.sweeper.schedule"
NONE, ASHA = "none", "asha"


@dataclass(frozen=True)
class Asha:
    """Asynchronous successive halving that pauses trials at their rungs instead of stopping them."""

    min_resource: int = 1
    reduction_factor: int = 3

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


Schedule = Asha


def schedule_of(node: Any) -> Schedule | None:
    """The schedule a sweeper config's `schedule` node names (None: `none`), its fields checked."""
    if node is None:
        return None
    if not isinstance(node, Mapping):
        raise ConfigError(KEY, node, f"must be a schedule config: hydra/sweeper/schedule={NONE} or {ASHA}")
    name = node.get("name", NONE)
    fields = {key: value for key, value in node.items() if key != "name"}
    if name == NONE:
        return None
    if name != ASHA:
        raise ConfigError(f"{KEY}.name", name, f"must be {NONE} or {ASHA}")
    unknown = sorted(set(fields) - set(Asha.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"{KEY}.{unknown[0]}", fields[unknown[0]], f"is no field of the {ASHA} schedule")
    return Asha(
        min_resource=bounded(f"{KEY}.min_resource", fields.get("min_resource", 1), 1),
        reduction_factor=bounded(f"{KEY}.reduction_factor", fields.get("reduction_factor", 3), 2),
    )


def schedule_from_facts(facts: Mapping[str, Any] | None) -> Schedule | None:
    """The schedule `as_facts` shipped to a trial's process."""
    if not facts:
        return None
    return Asha(**{key: value for key, value in facts.items() if key != "name"})
