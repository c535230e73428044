"""A LightningModule and LightningDataModule configured the way lightning-hydra-template configures its MNIST
example (on generated data: no download), swept by its `hparams_search` config as that template writes it.

    python examples/lightning/train.py                                  # one training
    python examples/lightning/train.py -m hparams_search=mnist_optuna   # the sweep (20 trials, TPE, pruning)
    python examples/lightning/train.py -m hparams_search=mnist_optuna trainer.devices=2 trainer.strategy=ddp_spawn
"""

import itertools

import hydra
import lightning as L
import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sweepwise.lightning import SweepwiseCallback

FEATURES, CLASSES = 64, 10


class DenseNet(nn.Module):
    """The template's SimpleDenseNet: three hidden layers whose sizes the sweep chooses."""

    def __init__(self, lin1_size: int, lin2_size: int, lin3_size: int) -> None:
        super().__init__()
        sizes = [FEATURES, lin1_size, lin2_size, lin3_size]
        layers: list[nn.Module] = []
        for inputs, outputs in itertools.pairwise(sizes):
            layers += [nn.Linear(inputs, outputs), nn.BatchNorm1d(outputs), nn.ReLU()]
        self.model = nn.Sequential(*layers, nn.Linear(lin3_size, CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Classifier(L.LightningModule):
    def __init__(self, net: DictConfig, optimizer: DictConfig) -> None:
        super().__init__()
        self.net, self.lr = DenseNet(**net), optimizer.lr
        self.best_acc = 0.0
        self.correct = self.seen = 0

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
        inputs, labels = batch
        loss = nn.functional.cross_entropy(self.net(inputs), labels)
        self.log("train/loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> None:
        inputs, labels = batch
        logits = self.net(inputs)
        self.log("val/loss", nn.functional.cross_entropy(logits, labels), sync_dist=True)
        self.correct += int((logits.argmax(1) == labels).sum())
        self.seen += len(labels)

    def on_validation_epoch_end(self) -> None:
        counts = torch.tensor([self.correct, self.seen], dtype=torch.float64)
        acc = self.trainer.strategy.reduce(counts, reduce_op="sum")  # over the ranks, if several
        self.correct = self.seen = 0
        value = float(acc[0] / acc[1])
        if not self.trainer.sanity_checking:
            self.best_acc = max(self.best_acc, value)
        self.log("val/acc", value, sync_dist=True)  # the same on every rank
        self.log("val/acc_best", self.best_acc, sync_dist=True)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["best_acc"] = self.best_acc

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.best_acc = checkpoint["best_acc"]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


class BlobsData(L.LightningDataModule):
    """Ten overlapping Gaussian blobs in 64 dimensions, split 3:1 into training and validation."""

    def __init__(self, batch_size: int, samples: int, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        centres = torch.randn(CLASSES, FEATURES, generator=generator)
        labels = torch.randint(0, CLASSES, (samples,), generator=generator)
        inputs = centres[labels] + 2.0 * torch.randn(samples, FEATURES, generator=generator)
        split = samples * 3 // 4
        self.train_set = TensorDataset(inputs[:split], labels[:split])
        self.val_set = TensorDataset(inputs[split:], labels[split:])
        self.batch_size = batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=256)


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float:
    L.seed_everything(cfg.seed, verbose=False)
    data = BlobsData(cfg.data.batch_size, cfg.data.samples)
    model = Classifier(cfg.model.net, cfg.model.optimizer)
    callback = SweepwiseCallback(monitor=cfg.optimized_metric)
    trainer = L.Trainer(
        **cfg.trainer, callbacks=[callback], logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.fit(model, datamodule=data, ckpt_path=callback.resume_from())
    return float(trainer.callback_metrics[cfg.optimized_metric])


if __name__ == "__main__":
    main()
