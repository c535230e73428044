"""A resumed optimiser trains with the config's settings and keeps its place on its schedule: what a member of
population-based training needs when it goes on from another's checkpoint with its own learning rate, and what a
plain resume needs to change nothing."""

import pytest
import torch

from sweepwise.training.optimizer_settings import apply_optimizer_settings, optimizer_settings

EPOCHS, STOP = 6, 3


def warmup_then_cosine(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=2)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[2])


def step_lr(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)


def trained(lr: float, schedule, epochs: int, start: dict | None = None, trained_with=None) -> tuple[list[float], dict]:
    """The learning rate of each epoch of a run at `lr` (resumed from `start` if given), and its checkpoint."""
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([weight], lr=lr, momentum=0.9, weight_decay=0.01)
    scheduler = schedule(optimizer)
    if start is not None:
        configured = optimizer_settings(optimizer)
        optimizer.load_state_dict(start["optimizer"])
        scheduler.load_state_dict(start["scheduler"])
        apply_optimizer_settings(optimizer, configured, [scheduler], trained_with)
    rates = []
    while len(rates) < epochs:
        rates.append(optimizer.param_groups[0]["lr"])
        weight.sum().backward()
        optimizer.step()
        scheduler.step()
    return rates, {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}


@pytest.mark.parametrize("schedule", [warmup_then_cosine, step_lr])
def test_a_run_resumed_with_another_rate_follows_its_schedule_at_that_rate(schedule):
    whole, _ = trained(0.2, schedule, EPOCHS)
    _, checkpoint = trained(0.1, schedule, STOP)  # another member's, at another rate
    resumed, _ = trained(0.2, schedule, EPOCHS - STOP, checkpoint)
    assert resumed == pytest.approx(whole[STOP:], rel=1e-12)  # past the warm-up's milestone too


@pytest.mark.parametrize("schedule", [warmup_then_cosine, step_lr])
def test_a_plain_resume_changes_nothing(schedule):
    whole, _ = trained(0.1, schedule, EPOCHS)
    _, checkpoint = trained(0.1, schedule, STOP)
    resumed, _ = trained(0.1, schedule, EPOCHS - STOP, checkpoint)
    assert resumed == whole[STOP:]


def test_a_rate_a_plateau_cut_keeps_its_cut_scaled_to_the_new_base():
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.Adam([weight], lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    trained_with = optimizer_settings(optimizer)
    for _ in range(3):
        plateau.step(1.0)  # no gain: cut at each step after the first
    checkpoint = {"optimizer": optimizer.state_dict(), "scheduler": plateau.state_dict()}
    for lr, expected in ((0.1, 0.025), (0.4, 0.1)):  # the same run resumed, and another member at 4x the rate
        weight = torch.nn.Parameter(torch.ones(3))
        resumed = torch.optim.Adam([weight], lr=lr)
        again = torch.optim.lr_scheduler.ReduceLROnPlateau(resumed, factor=0.5, patience=0)
        configured = optimizer_settings(resumed)
        resumed.load_state_dict(checkpoint["optimizer"])
        again.load_state_dict(checkpoint["scheduler"])
        apply_optimizer_settings(resumed, configured, [again], trained_with)
        assert resumed.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-12)


def test_the_other_settings_are_the_configs_and_the_state_is_the_checkpoints():
    _, checkpoint = trained(0.1, step_lr, STOP)
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([weight], lr=0.1, momentum=0.5, weight_decay=0.1)
    configured = optimizer_settings(optimizer)
    optimizer.load_state_dict(checkpoint["optimizer"])
    apply_optimizer_settings(optimizer, configured)
    (group,) = optimizer.param_groups
    assert group["momentum"] == 0.5 and group["weight_decay"] == 0.1
    saved = checkpoint["optimizer"]["state"][0]["momentum_buffer"]
    assert torch.equal(optimizer.state_dict()["state"][0]["momentum_buffer"], saved)
