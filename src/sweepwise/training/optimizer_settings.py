"""An optimiser's settings as the config made them, set again on an optimiser whose state a checkpoint restored.

Loading a checkpoint restores an optimiser's state and its settings alike: the learning rate, weight decay and
momentum the checkpoint was trained with. A run that goes on from another's checkpoint with other hyperparameters
(population-based training) must train with its own. For an unchanged config this changes nothing.
"""

from collections.abc import Sequence
from typing import Any

import torch

BASE_LR = "initial_lr"  # where PyTorch's schedulers (and sweepwise's loop) keep a group's unscheduled rate


def optimizer_settings(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """Each parameter group's settings (all but its parameters)."""
    return [{key: value for key, value in group.items() if key != "params"} for group in optimizer.param_groups]


def base_lr(settings: dict[str, Any]) -> float:
    """A group's unscheduled learning rate."""
    return float(settings.get(BASE_LR, settings["lr"]))


def apply_optimizer_settings(
    optimizer: torch.optim.Optimizer,
    settings: Sequence[dict[str, Any]],
    schedulers: Sequence[Any] = (),
    trained_with: Sequence[dict[str, Any]] | None = None,
) -> None:
    """Set `settings` (from `optimizer_settings` before the checkpoint was loaded) on the loaded optimiser.

    A learning rate part-way through a schedule keeps its place (a warm-up's, a cosine's, a plateau's cuts): it is
    scaled by the new base rate over the one the checkpoint was trained with (`trained_with`: the settings of that
    run, where its checkpoint kept them; else its groups' base rates), and `schedulers` of this optimiser, nested
    ones too, take the new base rates."""
    previous = trained_with or optimizer_settings(optimizer)
    for group, configured, before in zip(optimizer.param_groups, settings, previous, strict=True):
        old, new = base_lr(before), base_lr(configured)
        group.update({key: value for key, value in configured.items() if key not in ("lr", BASE_LR)})
        if new != old:
            group["lr"] = new * (group["lr"] / old)  # exactly `new` where the rate is unscheduled
            if BASE_LR in group:
                group[BASE_LR] = new
    groups = zip(optimizer.param_groups, settings, strict=True)
    bases = [base_lr(group if BASE_LR in group else configured) for group, configured in groups]
    for scheduler in schedulers:
        scheduler.load_state_dict(_with_base_lrs(scheduler.state_dict(), bases))


def _with_base_lrs(state: dict[str, Any], bases: list[float]) -> dict[str, Any]:
    """A scheduler's state with its base rates (and those of the schedulers it chains) set to `bases`."""
    changed: dict[str, Any] = {}
    for key, value in state.items():
        if key == "base_lrs":
            value = list(bases)
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            value = [_with_base_lrs(item, bases) for item in value]
        changed[key] = value
    return changed
