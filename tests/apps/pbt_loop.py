"""A loop of one's own under population-based training, keeping the evidence of what each trial began from: on
resuming, after loading its checkpoint and setting its own params on the optimiser, it saves what it is about to
train from (`began-<trial>.pt` beside its folder); each checkpoint it writes is kept, byte for byte, as
`kept/<member>-<epoch>.pt` in the sweep's folder. A test compares the two with the lineage the study records."""

import shutil
import time

import hydra
import torch
from omegaconf import DictConfig
from torch import nn

import sweepwise


@hydra.main(version_base="1.3", config_path="conf", config_name="pbt")
def main(cfg: DictConfig) -> float:
    generator = torch.Generator().manual_seed(cfg.seed)
    inputs = torch.randn(256, 4, generator=generator)
    targets = inputs @ torch.randn(4, 1, generator=generator) + 0.1 * torch.randn(256, 1, generator=generator)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    trial = sweepwise.current_trial()
    checkpoint = trial.folder / "last.pt"
    member_folder = trial.folder.parent
    kept = member_folder.parent / "kept"
    start = 0
    if trial.resuming and checkpoint.exists():
        state = torch.load(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:  # this trial's params, not those the checkpoint was trained with
            group.update(lr=cfg.lr, momentum=cfg.momentum)
        start = state["epoch"]
        began = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": start}
        torch.save(began, member_folder / f"began-{trial.number}.pt")
    for epoch in range(start + 1, cfg.epochs + 1):
        time.sleep(cfg.epoch_s)
        loss = nn.functional.mse_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            value = nn.functional.mse_loss(model(inputs), targets).item()
        stop = trial.report(epoch, {"loss": value}, objective="loss", last=epoch == cfg.epochs)
        trial.folder.mkdir(parents=True, exist_ok=True)
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}, checkpoint)
        kept.mkdir(exist_ok=True)
        shutil.copyfile(checkpoint, kept / f"{member_folder.name}-{epoch}.pt")
        if stop:
            raise sweepwise.TrialPruned(f"paused at epoch {epoch}")
    return value


if __name__ == "__main__":
    main()
