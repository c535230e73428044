"""Checks of what the data hands the loop: validation samples that are not training samples, training batches
that mix the classes (or spread the targets), and an evaluation that gives the same answer twice."""

import hashlib
from collections import Counter

import numpy as np
import torch

from sweepwise.recipe.pipeline import Pipeline
from sweepwise.recipe.report import FAIL, NOT_APPLICABLE, PASS, WARN, CheckResult
from sweepwise.tasks import LanguageModel

OVERLAP_WARN, OVERLAP_FAIL = 0.01, 0.10  # validation samples that also are training samples
MIXING_BATCHES = 10  # training batches whose classes are counted
MIXING_FACTOR = 3.0  # a batch's most frequent class may be this many times its share of the data
MIXING_FLOOR = 0.5  # ... and at most this share of the batch (for data with a dominant class)
TARGET_MIXING = 0.5  # a batch's target variance, as a share of the variance over the batches checked


def _digest(sample: torch.Tensor) -> bytes:
    return hashlib.blake2b(sample.detach().float().cpu().numpy().tobytes(), digest_size=16).digest()


def split_overlap(pipeline: Pipeline, seed: int) -> CheckResult:
    """The share of validation samples whose input is exactly a training sample's: a leak that flatters every
    validation metric."""
    data, size = pipeline.data, pipeline.settings.eval_batch_size
    # training batches at the run's own size, which fits the data (the evaluation size may exceed a small set)
    train = {_digest(x) for inputs, _ in data.train_batches(pipeline.settings.batch_size, 1, seed) for x in inputs}
    val = [_digest(x) for inputs, _ in data.val_batches(size) for x in inputs]
    share = sum(digest in train for digest in val) / len(val)
    return CheckResult(
        "train/validation overlap",
        PASS if share <= OVERLAP_WARN else (WARN if share <= OVERLAP_FAIL else FAIL),
        f"{share:.1%} of {len(val)} validation samples are also training samples",
        f"<= {OVERLAP_WARN:.0%} (WARN up to {OVERLAP_FAIL:.0%})",
        "samples are duplicated across the split (a dataset with repeated rows, or augmented copies split apart): "
        "validation measures memory, not generalisation",
        value=share,
    )


def batches_mix_classes(pipeline: Pipeline, seed: int) -> CheckResult:
    """In the first training batches, the most frequent class may not dominate far beyond its share of the data:
    batches of one class at a time (data sorted by class and never shuffled) train on a moving target. Numeric
    targets: a batch's targets must spread as the data's do."""
    if pipeline.data.target_scale is not None:
        return _batches_mix_targets(pipeline, seed)
    if isinstance(pipeline.task, LanguageModel):
        applies = f"not applicable to task={pipeline.task.name}"
        return CheckResult("batches mix classes", NOT_APPLICABLE, applies, "one label per sample")
    counts: Counter[int] = Counter()
    shares = []
    for _, (_, labels) in zip(range(MIXING_BATCHES), pipeline.batches(seed), strict=False):
        batch = Counter(labels.tolist())
        counts.update(batch)
        shares.append(max(batch.values()) / len(labels))
    largest_prior = max(counts.values()) / sum(counts.values())
    limit = max(MIXING_FLOOR, min(1.0, MIXING_FACTOR * largest_prior))
    mean_share = float(np.mean(shares))
    return CheckResult(
        "batches mix classes",
        PASS if mean_share <= limit else FAIL,
        f"the most frequent class is {mean_share:.0%} of a batch on average ({len(shares)} batches)",
        f"<= {limit:.0%}",
        "the training data is not shuffled (sorted by class): each batch pulls the model towards one class",
        value=mean_share,
    )


def deterministic_evaluation(pipeline: Pipeline, seed: int) -> CheckResult:
    """Two evaluations of one model give identical outputs: dropout left on, or augmentation applied to the
    validation data, would make each evaluation a different draw."""
    model = pipeline.model(seed).eval()
    size = pipeline.settings.eval_batch_size
    with torch.no_grad():
        first, second = (torch.cat([model(x).float() for x, _ in pipeline.data.val_batches(size)]) for _ in range(2))
    difference = float((first - second).abs().max())
    return CheckResult(
        "evaluation is deterministic",
        PASS if difference == 0.0 else FAIL,
        f"max |difference| between two evaluations {difference:.3g}",
        "exactly 0",
        "evaluation is random: dropout stays active in evaluation mode, or the validation data is augmented",
        value=difference,
    )


def _batches_mix_targets(pipeline: Pipeline, seed: int) -> CheckResult:
    """Data sorted by its target and never shuffled gives batches of near-equal targets: their spread within a
    batch is a small part of the spread over all the batches."""
    batches = [labels.float().reshape(len(labels), -1) for _, (_, labels) in
               zip(range(MIXING_BATCHES), pipeline.batches(seed), strict=False)]  # fmt: skip
    within = float(torch.stack([batch.var(dim=0, correction=0).mean() for batch in batches]).mean())
    overall = float(torch.cat(batches).var(dim=0, correction=0).mean())
    ratio = within / max(overall, 1e-12)
    return CheckResult(
        "batches mix classes",
        PASS if ratio >= TARGET_MIXING else FAIL,
        f"a batch's targets vary {ratio:.0%} as much as all {len(batches)} batches' targets do",
        f">= {TARGET_MIXING:.0%}",
        "the training data is not shuffled (sorted by its target): each batch pulls the model towards one value",
        value=ratio,
    )
