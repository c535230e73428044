"""Custom `_target_` parts for end-to-end tests: a model that diverges after a few optimiser steps, and one whose
process is killed in the middle of an epoch."""

import os
import signal
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn


class DivergingModel(nn.Module):
    """A linear model whose outputs turn NaN after `healthy_steps` training forward passes."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, healthy_steps: int = 20) -> None:
        super().__init__()
        self.linear = nn.Linear(int(torch.tensor(input_shape).prod()), num_classes)
        self.healthy_steps, self.calls = healthy_steps, 0

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits = self.linear(inputs.flatten(1))
        if self.training:
            self.calls += 1
            if self.calls > self.healthy_steps:
                return logits * float("nan")
        return logits


class KilledOnceModel(nn.Module):
    """A linear model whose process is SIGKILLed at its `kill_at`-th training forward pass, once per `marker` file
    (a retried trial finds the marker and trains on); `truncate`, when given, is cut to half its size first, as a
    checkpoint write torn by the crash would be."""

    def __init__(
        self, input_shape: Sequence[int], num_classes: int, kill_at: int, marker: str, truncate: str | None = None
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(int(torch.tensor(input_shape).prod()), num_classes)
        self.kill_at, self.marker, self.truncate, self.calls = kill_at, Path(marker), truncate, 0

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls += 1
            if self.calls == self.kill_at and not self.marker.exists():
                self.marker.write_text(str(os.getpid()))
                if self.truncate:
                    os.truncate(self.truncate, Path(self.truncate).stat().st_size // 2)
                os.kill(os.getpid(), signal.SIGKILL)
        return self.linear(inputs.flatten(1))


class RankKilledModel(nn.Module):
    """A linear model whose process, when it is rank `rank` of a multi-process run, is SIGKILLed at its
    `kill_at`-th training forward pass; every rank first writes its process id to `<pid_dir>/<rank>.pid`."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, rank: int, kill_at: int, pid_dir: str) -> None:
        super().__init__()
        self.linear = nn.Linear(int(torch.tensor(input_shape).prod()), num_classes)
        self.rank, self.kill_at, self.pid_dir, self.calls = rank, kill_at, Path(pid_dir), 0

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls += 1
            rank = torch.distributed.get_rank()
            if self.calls == 1:
                self.pid_dir.mkdir(parents=True, exist_ok=True)
                (self.pid_dir / f"{rank}.pid").write_text(str(os.getpid()))
            if self.calls == self.kill_at and rank == self.rank:
                os.kill(os.getpid(), signal.SIGKILL)
        return self.linear(inputs.flatten(1))
