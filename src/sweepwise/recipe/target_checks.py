"""Checks of numeric targets (regression), each N/A for class labels: the targets reach the loss standardised, and
the trained model's outputs can reach them (no output activation that clips their range, such as a ReLU head on
targets with negative values)."""

import torch

from sweepwise.recipe.pipeline import Pipeline
from sweepwise.recipe.report import FAIL, NOT_APPLICABLE, PASS, WARN, CheckResult

SCALE_BATCHES = 10  # training batches whose targets are measured
CLIPPED_SHARE = 0.1  # predictions tied at one extreme value, and targets beyond it, that show a clipping output


def targets_standardised(pipeline: Pipeline, seed: int) -> CheckResult:
    """The targets as the loss sees them: |mean| <= 1 and std 0.1-5 per target (WARN up to 3 and 10)."""
    name = "targets standardised"
    if pipeline.data.target_scale is None:
        return CheckResult(name, NOT_APPLICABLE, f"not applicable to task={pipeline.task.name}", "numeric targets")
    batches = [targets for _, (_, targets) in zip(range(SCALE_BATCHES), pipeline.batches(seed), strict=False)]
    targets = torch.cat(batches).float().reshape(-1, pipeline.data.num_targets)
    worst_mean, high_std = float(targets.mean(dim=0).abs().max()), float(targets.std(dim=0).max())
    low_std = float(targets.std(dim=0).min())
    ok = worst_mean <= 1.0 and low_std >= 0.1 and high_std <= 5.0
    return CheckResult(
        name,
        PASS if ok else (FAIL if worst_mean > 3.0 or high_std > 10.0 else WARN),
        f"max |target mean| {worst_mean:.3g}, target std {low_std:.3g}..{high_std:.3g} ({len(targets)} samples)",
        "|mean| <= 1 and std in [0.1, 5] per target (FAIL beyond 3 and 10)",
        "the targets reach the loss in their raw units (prices in dollars, say): the loss and its gradients take "
        "that scale, squared, and a learning rate that suits standardised targets diverges or crawls; standardise "
        "them with training statistics (TensorData.from_targets does)",
        value=max(worst_mean, high_std),
    )


def validation_predictions(pipeline: Pipeline, model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(outputs, targets) of every validation sample, rows of one column per target, on the CPU."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        pairs = [
            (model(x).float().cpu(), y.cpu()) for x, y in pipeline.data.val_batches(pipeline.settings.eval_batch_size)
        ]
    model.train(was_training)
    outputs, targets = torch.cat([o for o, _ in pairs]), torch.cat([t for _, t in pairs]).float()
    return outputs.reshape(len(targets), -1), targets.reshape(len(targets), -1)


def output_range(predictions: tuple[torch.Tensor, torch.Tensor] | None, steps: int) -> CheckResult:
    """After the budget run, no extreme value holds many predictions while many targets lie beyond it: an output
    activation that clips (ReLU, a clamp) answers every target beyond its bound with the bound itself."""
    name = "output range covers the targets"
    if predictions is None:
        return CheckResult(name, NOT_APPLICABLE, "class labels, or a budget run that diverged", "numeric targets")
    outputs, targets = predictions
    worst, reading = 0.0, "no prediction value held by more than one sample in ten"
    for column in range(targets.shape[1]):
        predicted, truth = outputs[:, column], targets[:, column]
        for bound, beyond in ((predicted.min(), truth < predicted.min()), (predicted.max(), truth > predicted.max())):
            tied, past = float((predicted == bound).float().mean()), float(beyond.float().mean())
            if min(tied, past) > worst:
                worst = min(tied, past)
                reading = f"{tied:.0%} of predictions are exactly {float(bound):.3g}, {past:.0%} of targets lie beyond"
    return CheckResult(
        name,
        FAIL if worst >= CLIPPED_SHARE else PASS,
        f"{reading} ({len(targets)} validation samples, after {steps} steps)",
        f"not both >= {CLIPPED_SHARE:.0%} at one bound",
        "the output cannot reach part of the targets' range: an activation after the last layer (a ReLU on targets "
        "with negative values, a sigmoid, a clamp) clips it; a regression head is linear",
        value=worst,
    )
