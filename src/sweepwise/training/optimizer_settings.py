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


def apply_optimizer_settings(
    optimizer: torch.optim.Optimizer, settings: Sequence[dict[str, Any]], schedulers: Sequence[Any] = ()
) -> None:
    """Set `settings` (from `optimizer_settings` before the checkpoint was loaded) on the loaded optimiser. A
    learning rate part-way through a schedule keeps its place: it is scaled by the new base rate over the old, and
    `schedulers` of this optimiser take the new base rates."""
    for group, configured in zip(optimizer.param_groups, settings, strict=True):
        old, new = group.get(BASE_LR, group["lr"]), configured.get(BASE_LR, configured["lr"])
        group.update({key: value for key, value in configured.items() if key not in ("lr", BASE_LR)})
        if new != old:
            group["lr"] = group["lr"] * new / old
            if BASE_LR in group:
                group[BASE_LR] = new
    for scheduler in schedulers:
        if hasattr(scheduler, "base_lrs"):
            scheduler.base_lrs = [group.get(BASE_LR, group["lr"]) for group in optimizer.param_groups]
