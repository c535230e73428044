"""Checks of token sequences (language modelling), each N/A for other tasks: the classic bugs of a language model
that a loss curve hides, because each makes the task easier than it is.

- A model that sees the future (a missing or wrong causal mask) predicts token t+1 from itself: its loss falls
  fast and its samples are garbage. Changing the tokens after position t must leave the outputs up to t unchanged,
  as changing one sample of a batch leaves the others unchanged (batch independence).
- Targets that are not the inputs shifted by one (no shift, a shift of two) train a copier or a skip-gram.
- Token inputs have no gradient: batch independence is checked by changing one sample's tokens instead.
"""

import torch

from sweepwise.recipe.pipeline import Pipeline
from sweepwise.recipe.report import FAIL, NOT_APPLICABLE, PASS, CheckResult, verdict
from sweepwise.tasks import LanguageModel

SEQUENCES = 4  # sequences of the first training batch that the checks perturb
TOLERANCE = 1e-5  # relative to the largest output: float noise of attention kernels that reorder their sums
NEXT_TOKEN_SHARE = 0.99  # positions whose target is the next input token (a repeated token may match by chance)


def _not_applicable(name: str, pipeline: Pipeline, needs: str) -> CheckResult | None:
    if isinstance(pipeline.task, LanguageModel):
        return None
    return CheckResult(name, NOT_APPLICABLE, f"not applicable to task={pipeline.task.name}", needs)


def _other_tokens(tokens: torch.Tensor, vocabulary: int) -> torch.Tensor:
    """Every token replaced by a different one."""
    return (tokens + 1) % vocabulary


def no_future_tokens(pipeline: Pipeline, seed: int) -> CheckResult:
    """Change every token after the middle position (eval mode): the outputs up to it must not move, and the
    outputs after it must (else the model ignores its inputs and the check proves nothing)."""
    name = "causal mask (no future tokens)"
    skipped = _not_applicable(name, pipeline, "a language model")
    if skipped is not None:
        return skipped
    model = pipeline.model(seed).eval()
    tokens, _ = pipeline.first_batch(SEQUENCES, seed)
    middle = tokens.shape[1] // 2
    changed = tokens.clone()
    changed[:, middle + 1 :] = _other_tokens(tokens[:, middle + 1 :], pipeline.data.num_classes)
    with torch.no_grad():
        before, after = model(tokens).float(), model(changed).float()
    scale = max(1.0, float(before.abs().max()))
    leaked = float((before[:, : middle + 1] - after[:, : middle + 1]).abs().max()) / scale
    moved = float((before[:, middle + 1 :] - after[:, middle + 1 :]).abs().max()) / scale
    criterion = f"outputs up to position {middle} move <= {TOLERANCE:g} (relative) when later tokens change"
    measured = f"max relative change of outputs up to position {middle}: {leaked:.3g}; after it: {moved:.3g}"
    if moved <= TOLERANCE:
        return CheckResult(name, FAIL, measured, criterion, "the outputs do not depend on the tokens: the model "
                           "ignores its inputs (or the check changed nothing)", value=moved)  # fmt: skip
    return CheckResult(
        name,
        verdict(leaked <= TOLERANCE),
        measured,
        criterion,
        "the model sees the future: attention without a causal mask (or a mask the wrong way round), so it "
        "predicts each token from itself; its loss falls fast and its samples are garbage",
        value=leaked,
    )


def targets_are_next_tokens(pipeline: Pipeline, seed: int) -> CheckResult:
    """In the first training batch, each target is the input token one position later."""
    name = "targets are the next tokens"
    skipped = _not_applicable(name, pipeline, "a language model")
    if skipped is not None:
        return skipped
    tokens, targets = pipeline.first_batch(pipeline.settings.batch_size, seed)
    share = float((targets[:, :-1] == tokens[:, 1:]).float().mean())
    same = float((targets == tokens).float().mean())
    return CheckResult(
        name,
        verdict(share >= NEXT_TOKEN_SHARE),
        f"{share:.1%} of targets are the next input token ({same:.1%} are the input token itself)",
        f">= {NEXT_TOKEN_SHARE:.0%}",
        "the targets are not the inputs shifted by one: with no shift the model learns to copy its input (a loss "
        "near zero), with a longer one it predicts further ahead than it is used for",
        value=share,
    )


def tokens_stay_in_their_sample(pipeline: Pipeline, seed: int) -> CheckResult:
    """Batch independence for token inputs (which have no gradient): change one sequence's tokens (eval mode); the
    other sequences' outputs must not move, its own must."""
    model = pipeline.model(seed).eval()
    tokens, _ = pipeline.first_batch(SEQUENCES, seed)
    chosen = 1
    changed = tokens.clone()
    changed[chosen] = _other_tokens(tokens[chosen], pipeline.data.num_classes)
    with torch.no_grad():
        difference = (model(tokens).float() - model(changed).float()).abs().flatten(1).amax(dim=1)
    others = torch.arange(len(tokens)) != chosen
    leaked, own = float(difference[others].max()), float(difference[chosen])
    return CheckResult(
        "batch independence (backprop)",
        PASS if own > 0.0 and leaked == 0.0 else FAIL,
        f"|change| of other sequences' outputs {leaked:.3g}, of its own {own:.3g} (its tokens changed)",
        "exactly 0 on other sequences, non-zero on its own",
        "outputs of one sequence depend on the others: a reshape or view mixes the batch dimension (or a layer "
        "uses batch statistics in eval mode); no change on its own: the model ignores its tokens",
        value=leaked,
    )
