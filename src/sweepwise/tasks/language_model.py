"""Language modelling: next-token prediction on token sequences, measured in nats, perplexity and bits per token.

Every position of a sequence is a prediction: the model reads token ids (batch, steps) and gives logits (batch,
steps, vocabulary), and its loss is the cross-entropy of each position's logits against the next token. The
standard errors treat each validation sequence as one sample (the tokens within a sequence are not independent).
"""

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sweepwise.data import DataModule
from sweepwise.data.text_corpus import TokenData
from sweepwise.errors import ConfigError, first_line
from sweepwise.spec.schema import TASK_METRICS
from sweepwise.tasks.classification import log_priors, one_answer_bound
from sweepwise.tasks.generations import Generations
from sweepwise.tasks.ngrams import ngram_accuracy
from sweepwise.tasks.task import Baseline, Sums, Task


class LanguageModel(Task):
    """Token ids in, a score per vocabulary entry at every position out; `val/acc` (the next token guessed right)
    is the score the recipe's checks compare runs by."""

    name = "language_model"
    metrics = TASK_METRICS["sweepwise.tasks.LanguageModel"]
    score = "val/acc"

    def check_data(self, data: DataModule, data_key: str) -> None:
        if not isinstance(data, TokenData):
            raise ConfigError(
                "task", self.name, f"{data_key} gives no token sequences: train a language model with data=text"
            )

    def check_model(self, model: nn.Module, data: DataModule, target: str) -> None:
        """A model for token ids: (batch, context) integers in, a score per vocabulary entry at every position
        out. A model made for feature vectors fails on integers, and one that scores whole sequences gives the
        wrong shape."""
        assert isinstance(data, TokenData)  # check_data came first
        expected = (data.context, data.num_classes)
        training = model.training
        try:
            with torch.no_grad():
                shape = tuple(model.eval()(torch.zeros((1, data.context), dtype=torch.long)).shape[1:])
        except (RuntimeError, TypeError, ValueError, IndexError) as error:
            shape, cause = None, first_line(error)
        finally:
            model.train(training)
        if shape != expected:
            got = f"gives outputs of shape {shape}" if shape is not None else f"cannot read them ({cause})"
            raise ConfigError(
                "model._target_",
                target,
                f"a language model takes token ids (batch, {data.context}) and gives a score per token of the "
                f"vocabulary at each position {expected}; this model {got}: use model=transformer",
            )

    def outputs(self, data: DataModule) -> int:
        return data.num_classes

    def valid_targets(self, targets: torch.Tensor, data: DataModule) -> bool:
        in_range = bool(((targets >= 0) & (targets < data.num_classes)).all())
        return not targets.is_floating_point() and targets.ndim == 2 and in_range

    def target_texts(self, targets: torch.Tensor, data: DataModule) -> list[str]:
        assert isinstance(data, TokenData)
        return [repr(data.decode(row[:24].tolist())) for row in targets]

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs.flatten(0, -2), targets.flatten())

    def right(self, outputs: torch.Tensor, targets: torch.Tensor) -> int:
        """Sequences whose every next token is guessed right."""
        return int((outputs.argmax(dim=-1) == targets).all(dim=1).sum())

    def batch_sums(self, outputs: torch.Tensor, targets: torch.Tensor) -> Sums:
        per_token = F.cross_entropy(outputs.transpose(1, 2), targets, reduction="none")  # (batch, steps)
        per_sequence = per_token.mean(dim=1)
        correct = (outputs.argmax(dim=-1) == targets).float().mean(dim=1)
        return {
            "loss": per_sequence.sum(),
            "loss_squared": per_sequence.square().sum(),
            "correct": correct.sum(),
            "correct_squared": correct.square().sum(),
        }

    def measure(self, sums: Sums, count: int, data: DataModule) -> dict[str, float]:
        loss, accuracy = sums["loss"].item() / count, sums["correct"].item() / count
        loss_se = _standard_error(loss, sums["loss_squared"].item() / count, count)
        return {
            "val/loss": loss,
            "val/perplexity": math.exp(min(loss, 700.0)),
            "val/bits_per_token": loss / math.log(2),
            "val/bits_per_token_se": loss_se / math.log(2),
            "val/acc": accuracy,
            "val/acc_se": _standard_error(accuracy, sums["correct_squared"].item() / count, count),
        }

    def constant_outputs(self, data: DataModule, train_targets: torch.Tensor) -> torch.Tensor:
        """The log unigram frequencies of the training tokens."""
        return log_priors(train_targets, data.num_classes)

    def constant_batch(self, constant: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return constant.expand(*targets.shape, -1)

    def predictions(self, outputs: torch.Tensor) -> torch.Tensor:
        return F.softmax(outputs.float(), dim=-1)

    def zeroed_bound(self, val_targets: torch.Tensor) -> tuple[float, float]:
        """Without its inputs a model guesses one token everywhere: at best the most frequent one's share."""
        return one_answer_bound(val_targets)

    def baselines(
        self, train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor]
    ) -> list[Baseline]:
        return [
            Baseline("unigram", ngram_accuracy(train, val, order=1)),
            Baseline("bigram", ngram_accuracy(train, val, order=2)),
        ]

    def memorisable(self, samples: int, data: DataModule) -> int:
        """One sequence: two sequences that start alike ask for different next tokens after the same prefix."""
        return 1

    def probe(self, data: DataModule, total_steps: int, batch_size: int) -> Generations:
        """A sample of generated text at the end of every epoch."""
        assert isinstance(data, TokenData)
        return Generations(data, every=data.steps_per_epoch(batch_size))

    def figures(self, model: nn.Module, data: DataModule, batch_size: int, folder: Path) -> list[Path]:
        return []

    def summary(self, last: dict[str, float]) -> dict[str, str]:
        return {
            "val/bits_per_token (last)": f"{last['val/bits_per_token']:.4f} +- {last['val/bits_per_token_se']:.4f}",
            "val/perplexity (last)": f"{last['val/perplexity']:.4g}",
        }


def _standard_error(mean: float, mean_of_squares: float, count: int) -> float:
    return math.sqrt(max(mean_of_squares - mean * mean, 0.0) / max(count - 1, 1))
