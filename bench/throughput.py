"""Training samples/s of sweepwise's loop against a bare hand-written PyTorch loop, measured in the same run.

Same data, model, batch size, optimiser and device. Rounds alternate (bare, ours, bare, ours, ...) so that the
machine's drift hits both alike; each round trains `--epochs` epochs from the same seed and reports the median
samples/s of its epochs after the first. The ratio (ours / bare) of the medians over rounds is printed last.

    python bench/throughput.py [--rounds 5] [--epochs 4] [--model convnet] [--batch-size 64] [--device auto]
    python bench/throughput.py --task regression --data synthetic_regression --model mlp
    python bench/throughput.py --task language_model --data text --model transformer --rounds 3 --epochs 3

sweepwise's loop runs as `train.py` runs it, with the task's step probe (the prediction dynamics of classification,
a language model's sample per epoch).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import build_parts, build_trainer, compose_config

from sweepwise.data.module import epoch_permutation
from sweepwise.training.runtime import autocast_for, resolve_device


def next_token_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(outputs.flatten(0, 1), targets.flatten())


# the loss a person writes by hand for each task (by its class)
BARE_LOSSES = {"Classification": F.cross_entropy, "Regression": F.mse_loss, "LanguageModel": next_token_loss}
TASKS = ("classification", "regression", "language_model")


def bare_loop(cfg, device, epochs: int) -> list[float]:
    """The loop a person writes by hand: shuffle by index, forward, loss, backward, step."""
    loss_of = BARE_LOSSES[cfg.task._target_.rsplit(".", 1)[-1]]
    data, model, optimizer = build_parts(cfg, device)
    autocast = autocast_for(device, cfg.trainer.precision)
    batch_size = cfg.trainer.batch_size
    steps = data.num_train // batch_size
    rates = []
    model.train()
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        order = epoch_permutation(data.num_train, 0, epoch).to(device)
        for step in range(steps):
            index = order[step * batch_size : (step + 1) * batch_size]
            with autocast():
                loss = loss_of(model(data.train_x[index]), data.train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        rates.append(steps * batch_size / (time.perf_counter() - started))
    return rates


def our_loop(cfg, device, epochs: int) -> list[float]:
    state = build_trainer(cfg, device, probed=True).fit()
    return [row["train/samples_per_sec"] for row in state.history]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--task", default="classification", choices=TASKS)
    parser.add_argument("--model", default="convnet")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    args, overrides = parser.parse_known_args()  # more overrides, e.g. trainer.compile=true, apply to our loop
    common = [
        f"task={args.task}",
        f"model={args.model}",
        f"data={args.data}",
        f"trainer.batch_size={args.batch_size}",
        f"trainer.epochs={args.epochs}",
        f"trainer.device={args.device}",
        "trainer.checkpoint_dir=null",
        "output_dir=/tmp/sweepwise-bench",
    ]
    plain, cfg = compose_config(common), compose_config([*common, *overrides])
    device = resolve_device(args.device)
    print(
        f"device {device}, task {args.task}, model {args.model}, data {args.data}, batch {args.batch_size}, "
        f"torch {torch.__version__}"
    )
    if overrides:
        print(f"sweepwise's loop with {' '.join(overrides)}")
    bare, ours = [], []
    for round_index in range(args.rounds):
        bare.append(statistics.median(bare_loop(plain, device, args.epochs)[1:]))
        ours.append(statistics.median(our_loop(cfg, device, args.epochs)[1:]))
        print(f"round {round_index + 1}: bare {bare[-1]:.0f} samples/s, sweepwise {ours[-1]:.0f} samples/s")
    bare_median, our_median = statistics.median(bare), statistics.median(ours)
    print(f"median bare {bare_median:.0f} samples/s, sweepwise {our_median:.0f} samples/s")
    print(f"throughput ratio (sweepwise / bare): {our_median / bare_median:.3f}")


if __name__ == "__main__":
    main()
