"""Checks of a freshly initialised model: loss at init, the batch entering it, and how samples interact."""

from pathlib import Path

import numpy as np
import torch

from sweepwise.figures import image_grid, pyplot, save_figure
from sweepwise.recipe.pipeline import Pipeline
from sweepwise.recipe.report import FAIL, NOT_APPLICABLE, PASS, WARN, CheckResult, verdict
from sweepwise.recipe.sequence_checks import tokens_stay_in_their_sample
from sweepwise.tasks.output_bias import final_linear, training_targets

INIT_LOSS_TOLERANCE = 0.10  # the loss at init within 10% of its expected value, either side, passes
INIT_LOSS_RANGE = (0.5, 1.5)  # ... and within these multiples of it warns; beyond, it fails
INIT_BATCHES = 4  # training batches the loss at init is averaged over
SAMPLES_FOR_GRADIENTS = 4
PRIOR_TOLERANCE = 0.05  # the untrained model's mean prediction vs the baseline's (class probabilities; targets in SDs)


def loss_at_init(pipeline: Pipeline, seed: int) -> CheckResult:
    """The untrained model's loss as the first training steps see it (training mode, so batch norm normalises with
    the batch's statistics, not with untouched running ones) against the loss of the outputs it should start near
    (all zero: uniform classes, the target mean; with `recipe.init_bias`, the task's dumb baseline): within 10%
    passes; within 0.5x-1.5x warns (a few strong features, a deep net's spread); beyond is confidently wrong."""
    task = pipeline.task
    if pipeline.init_bias:
        start = task.constant_outputs(pipeline.data, training_targets(pipeline.data, pipeline.settings.batch_size))
    model = pipeline.model(seed).train()
    losses, expected_losses = [], []
    with torch.no_grad():
        for _, (inputs, labels) in zip(range(INIT_BATCHES), pipeline.batches(seed), strict=False):
            with pipeline.autocast():
                outputs = model(inputs).float()
            baseline = start.to(outputs.device).expand_as(outputs) if pipeline.init_bias else torch.zeros_like(outputs)
            losses.append(float(task.loss(outputs, labels)))
            expected_losses.append(float(task.loss(baseline, labels)))
    loss, expected = float(np.mean(losses)), float(np.mean(expected_losses))
    ratio = loss / expected
    against = "the dumb baseline's loss (recipe.init_bias)" if pipeline.init_bias else "the loss of all-zero outputs"
    close, plausible = abs(ratio - 1) <= INIT_LOSS_TOLERANCE, INIT_LOSS_RANGE[0] <= ratio <= INIT_LOSS_RANGE[1]
    return CheckResult(
        "loss at init",
        PASS if close else (WARN if plausible else FAIL),
        f"{loss:.4f} (expected {expected:.4f}, ratio {ratio:.2f})",
        f"within {INIT_LOSS_TOLERANCE:.0%} of {against} (WARN within {INIT_LOSS_RANGE[0]}x-{INIT_LOSS_RANGE[1]}x)",
        "the untrained model is confidently wrong: the output layer's scale is off (a large init, a missing "
        "softmax temperature) or the loss does not see logits",
        value=loss,
    )


def final_bias_from_priors(pipeline: Pipeline, seed: int) -> CheckResult:
    """With `recipe.init_bias`, the untrained model's mean prediction over the validation set is the task's dumb
    baseline (the class priors, the target mean), which its output layer's bias was set to."""
    name = "final-layer bias from priors"
    if not pipeline.init_bias:
        return CheckResult(name, NOT_APPLICABLE, "off", "recipe.init_bias=true turns it on")
    task, data = pipeline.task, pipeline.data
    model = pipeline.model(seed).eval()
    baseline = task.predictions(task.constant_outputs(data, training_targets(data, pipeline.settings.batch_size)))
    if final_linear(model) is None:
        return CheckResult(name, WARN, "no nn.Linear output layer with a bias", "an output layer to initialise")
    with torch.no_grad():
        batches = data.val_batches(pipeline.settings.eval_batch_size)
        predicted = torch.cat([task.predictions(model(x)).reshape(-1, len(baseline)) for x, _ in batches]).mean(dim=0)
    gap = float((predicted.cpu() - baseline).abs().max())
    return CheckResult(
        name,
        verdict(gap <= PRIOR_TOLERANCE),
        f"max |mean prediction - prior| {gap:.3g}",
        f"<= {PRIOR_TOLERANCE}",
        "the layer set from the priors is not what makes the predictions: its weights dominate the bias (a large "
        "init) or more layers follow it",
        value=gap,
    )


def batch_entering_the_model(pipeline: Pipeline, seed: int, folder: Path) -> tuple[CheckResult, Path | None]:
    """The exact tensor the model receives (caught by a forward pre-hook): finite, normalised, labels in range;
    an image grid of it with its labels."""
    model = pipeline.model(seed)
    captured: list[torch.Tensor] = []
    hook = model.register_forward_pre_hook(lambda _, args: captured.append(args[0].detach()))
    inputs, labels = next(iter(pipeline.data.train_batches(pipeline.settings.batch_size, 1, seed)))
    with torch.no_grad():
        model(inputs)
    hook.remove()
    if not captured[0].is_floating_point():
        return _tokens_entering_the_model(pipeline, captured[0], labels), None
    batch = captured[0].float()
    per_channel = batch.transpose(0, 1).reshape(batch.shape[1], -1) if batch.ndim > 2 else batch.T
    means, stds = per_channel.mean(dim=1), per_channel.std(dim=1)
    finite = bool(torch.isfinite(batch).all())
    labels_ok = pipeline.task.valid_targets(labels, pipeline.data)
    worst_mean, low_std, high_std = float(means.abs().max()), float(stds.min()), float(stds.max())
    ok = finite and labels_ok and worst_mean <= 1.0 and low_std >= 0.1 and high_std <= 5.0
    bad = not finite or not labels_ok or worst_mean > 3.0 or high_std > 10.0
    titles = pipeline.task.target_texts(labels[:16], pipeline.data)
    grid = save_batch_grid(batch, titles, folder) if pipeline.data.is_image else None
    result = CheckResult(
        "batch entering the model",
        PASS if ok else (FAIL if bad else WARN),
        f"finite={finite}, targets valid={labels_ok}, max |channel mean| {worst_mean:.3g}, "
        f"channel std {low_std:.3g}..{high_std:.3g}" + ("" if grid else " (tabular: no image grid)"),
        "finite, targets valid (labels in [0, C); finite numbers), |mean| <= 1 and std in [0.1, 5] per channel",
        "the inputs are not normalised as intended (e.g. raw 0-255 pixels), or NaNs or bad labels get through",
        value=worst_mean,
    )
    return result, grid


def _tokens_entering_the_model(pipeline: Pipeline, tokens: torch.Tensor, targets: torch.Tensor) -> CheckResult:
    """Token ids have no mean or spread to check: each must name a vocabulary entry."""
    vocabulary = pipeline.data.num_classes
    in_range = bool(((tokens >= 0) & (tokens < vocabulary)).all())
    targets_ok = pipeline.task.valid_targets(targets, pipeline.data)
    example = pipeline.task.target_texts(targets[:1], pipeline.data)[0]
    return CheckResult(
        "batch entering the model",
        verdict(in_range and targets_ok),
        f"token ids {int(tokens.min())}..{int(tokens.max())} of a vocabulary of {vocabulary}, targets "
        f"valid={targets_ok} (e.g. {example})",
        "token ids and targets in [0, vocabulary)",
        "token ids outside the vocabulary: a tokenizer and a model that disagree on its size",
        value=float(tokens.max()),
    )


def save_batch_grid(batch: torch.Tensor, titles: list[str], folder: Path) -> Path:
    plt = pyplot()
    count = min(16, len(batch))
    figure, axis = plt.subplots(figsize=(2 * ((count + 1) // 2), 4.4))
    image_grid(axis, batch[:count].cpu().numpy(), titles[:count], (count + 1) // 2)
    figure.suptitle("the batch entering the model (as the model sees it, rescaled per image)")
    return save_figure(figure, folder / "batch_entering_model.png")


def batch_independence(pipeline: Pipeline, seed: int) -> CheckResult:
    """Backprop from one sample's outputs: the gradient on every other input must be exactly zero (norm layers
    in eval mode), and on its own input non-zero."""
    inputs, _ = pipeline.first_batch(SAMPLES_FOR_GRADIENTS, seed)
    if not inputs.is_floating_point():
        return tokens_stay_in_their_sample(pipeline, seed)
    model = pipeline.model(seed).eval()
    inputs = inputs.clone().requires_grad_(True)
    chosen = 1
    model(inputs)[chosen].sum().backward()
    gradient = inputs.grad if inputs.grad is not None else torch.zeros_like(inputs)  # None: input unused
    per_sample = gradient.flatten(1).abs().sum(dim=1)
    leaked = float(per_sample[torch.arange(len(per_sample)) != chosen].max())
    own = float(per_sample[chosen])
    if own == 0.0:
        return CheckResult(
            "batch independence (backprop)",
            FAIL,
            f"gradient on sample {chosen}'s own input is 0",
            "non-zero on its own input, zero on the others",
            "the output does not depend on the input: the model ignores it (or its gradient is cut)",
            value=own,
        )
    return CheckResult(
        "batch independence (backprop)",
        verdict(leaked == 0.0),
        f"|gradient| on other samples' inputs {leaked:.3g}, on its own {own:.3g}",
        "exactly 0 on other samples",
        "gradient flows between samples: a reshape or view mixes the batch dimension (or a layer uses batch "
        "statistics in eval mode)",
        value=leaked,
    )


def per_sample_equals_batched(pipeline: Pipeline, seed: int) -> CheckResult:
    """A per-sample loop gives the batched forward's outputs (eval mode)."""
    model = pipeline.model(seed).eval()
    inputs, _ = pipeline.first_batch(SAMPLES_FOR_GRADIENTS * 2, seed)
    with torch.no_grad():
        batched = model(inputs).float()
        one_by_one = torch.cat([model(inputs[index : index + 1]) for index in range(len(inputs))]).float()
    difference = float((batched - one_by_one).abs().max())
    scale = max(1.0, float(batched.abs().max()))
    return CheckResult(
        "per-sample loop = batched forward",
        verdict(difference <= 1e-4 * scale),
        f"max |difference| {difference:.3g}",
        f"<= {1e-4 * scale:.3g}",
        "outputs depend on which other samples share the batch: a reshape mixing samples, or batch statistics "
        "used at evaluation",
        value=difference,
    )
