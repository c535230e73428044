"""A plain PyTorch regression loop, swept by sweepwise: each epoch is reported to the trial (which logs it to
MLflow and may prune), and the trial's folder keeps a checkpoint that an interrupted trial resumes from.

    python examples/own_loop/train.py                  # one run, logged to ./mlflow.db
    python examples/own_loop/train.py -m               # the sweep conf/config.yaml defines
    python examples/own_loop/train.py -m hydra.sweeper.n_trials=20 hydra.sweeper.n_jobs=4
"""

import hydra
import torch
from omegaconf import DictConfig
from torch import nn

import sweepwise

FEATURES = 8


def make_data(seed: int, samples: int) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """A noisy non-linear target of 8 features: (train, validation) as (inputs, targets)."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(samples, FEATURES, generator=generator)
    weights = torch.randn(FEATURES, 1, generator=generator)
    targets = torch.sin(inputs @ weights) + 0.1 * torch.randn(samples, 1, generator=generator)
    split = samples * 3 // 4
    return (inputs[:split], targets[:split]), (inputs[split:], targets[split:])


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    torch.manual_seed(cfg.seed)
    (inputs, targets), (val_inputs, val_targets) = make_data(cfg.seed, cfg.samples)
    model = nn.Sequential(nn.Linear(FEATURES, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    trial = sweepwise.current_trial()
    checkpoint = trial.folder / "last.pt"
    start, best = 0, float("inf")
    if trial.resuming and checkpoint.exists():  # an interrupted or requeued trial continues its own work
        state = torch.load(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:  # this trial's settings, not the checkpoint's: under population-based
            group.update(lr=cfg.lr, weight_decay=cfg.weight_decay)  # training it goes on from another's work
        start, best = state["epoch"], state["best"]
        print(f"resumed from the checkpoint of epoch {start}", flush=True)

    for epoch in range(start + 1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(cfg.seed + epoch))
        for batch in order.split(cfg.batch_size):
            loss = nn.functional.mse_loss(model(inputs[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = nn.functional.mse_loss(model(val_inputs), val_targets).item()
        best = min(best, val_loss)
        print(f"epoch {epoch}/{cfg.epochs} val/loss {val_loss:.4f}", flush=True)
        # reported before it is saved: an attempt stopped between the two trains the epoch again and its second
        # report is not logged twice; saved first, the epoch would never be reported
        last = epoch == cfg.epochs  # reported, never pruned: a trial that trained to the end completes
        stop = trial.report(epoch, {"val/loss": val_loss, "train/loss": loss.item()}, objective="val/loss", last=last)
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "best": best}
        torch.save(state, checkpoint.with_suffix(".tmp"))
        checkpoint.with_suffix(".tmp").replace(checkpoint)  # whole or not at all, even if the process is killed
        if stop:  # pruned, or paused by the sweep's schedule: its work goes on later from this epoch's checkpoint
            raise sweepwise.TrialPruned(f"pruned at epoch {epoch}: val/loss {val_loss:.4g}")
    return best


if __name__ == "__main__":
    main()
