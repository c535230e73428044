"""sweepwise's default language model on the standard library's documentation against the corpus's n-gram models.

Trains `task=language_model data=text model=transformer` with the given overrides (by default the shipped sweep's
settings: AdamW at 3e-3, 4 epochs), once per seed, and prints each epoch's validation bits per character beside
the unigram and bigram models' (counted on the same training text, add-one smoothed), then the time until the
model's validation bits first fell below the bigram model's (goal: below it, and the time recorded).

    python bench/language_model.py [--seeds 1] [overrides ...]
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import build_trainer, compose_config

from sweepwise.data.text_corpus import TokenData
from sweepwise.tasks.ngrams import ngram_bits

DEFAULTS = ["optimizer=adamw", "optimizer.lr=3e-3", "trainer.epochs=4"]


class EpochClock:
    """An epoch callback that notes the seconds since training started at each epoch's end."""

    def __init__(self) -> None:
        self.started, self.seconds = time.perf_counter(), list[float]()

    def __call__(self, epoch: int, metrics: dict[str, float], /) -> None:
        self.seconds.append(time.perf_counter() - self.started)


def train_once(overrides: list[str], seed: int, verbose: bool) -> None:
    trainer = build_trainer(compose_config([*overrides, f"trainer.seed={seed}"]), torch.device("cpu"))
    data = trainer.data
    assert isinstance(data, TokenData)
    train, val = (data.train_x, data.train_y), (data.val_x, data.val_y)
    unigram, bigram = ngram_bits(train, val, order=1), ngram_bits(train, val, order=2)
    if verbose:
        print(f"corpus: {data.num_train} training and {data.num_val} validation sequences of {data.context}")
        print(f"unigram {unigram:.3f} bits/char, bigram {bigram:.3f} bits/char (validation)")
    clock = EpochClock()
    trainer.callbacks.append(clock)
    state = trainer.fit()
    reached = None
    for seconds, row in zip(clock.seconds, state.history, strict=True):
        bits = row["val/bits_per_token"]
        if reached is None and bits < bigram:
            reached = f"below the bigram's at epoch {row['epoch']}, {seconds:.0f} s"
        print(f"seed {seed} epoch {row['epoch']}: {bits:.3f} +- {row['val/bits_per_token_se']:.3f} bits/char "
              f"at {seconds:.0f} s")  # fmt: skip
    last = state.history[-1]["val/bits_per_token"]
    print(f"seed {seed}: last {last:.3f} bits/char ({last / bigram:.3f}x the bigram's); {reached or 'never below'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    args, overrides = parser.parse_known_args()
    common = ["task=language_model", "data=text", "model=transformer", "trainer.checkpoint_dir=null",
              "output_dir=/tmp/sweepwise-bench", "trainer.progress=off", *DEFAULTS, *overrides]  # fmt: skip
    print(f"sweepwise: {' '.join(common[:3])} {' '.join([*DEFAULTS, *overrides])}; torch {torch.__version__}")
    for seed in range(args.seeds):
        train_once(common, seed, verbose=seed == 0)


if __name__ == "__main__":
    main()
