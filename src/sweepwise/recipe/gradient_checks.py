"""Where the loss's gradient goes: every parameter the optimiser updates gets one, and every tensor that gets one
is updated by the optimiser."""

import torch
import torch.nn.functional as F

from sweepwise.recipe.pipeline import Pipeline
from sweepwise.recipe.report import FAIL, PASS, CheckResult

SHOWN = 3  # parameter names shown in a failure


def _trained_leaves(loss: torch.Tensor) -> list[torch.Tensor]:
    """The tensors the loss's backward pass accumulates gradients into (its graph's leaves)."""
    leaves, seen, stack = [], set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)  # AccumulateGrad nodes hold their leaf tensor
        if isinstance(variable, torch.Tensor):
            leaves.append(variable)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return leaves


def gradient_flow(pipeline: Pipeline, seed: int) -> CheckResult:
    """One backward pass of the training loss: a parameter that gets no gradient (a `detach()` or an unused
    branch) never learns; a tensor that gets one but is not among the model's parameters is never updated."""
    model = pipeline.model(seed).train()
    inputs, labels = next(pipeline.batches(seed))
    with pipeline.autocast():
        loss = F.cross_entropy(model(inputs).float(), labels)
    loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
    names = {id(parameter): name for name, parameter in model.named_parameters()}
    cut = [
        name
        for name, parameter in model.named_parameters()
        if parameter.requires_grad and (parameter.grad is None or not bool(parameter.grad.any()))
    ]
    hidden = [leaf for leaf in _trained_leaves(loss) if id(leaf) not in names]
    ok = not cut and not hidden
    measured = f"{len(names)} parameters all get a gradient and are all optimised"
    if not ok:
        measured = "; ".join(
            part
            for part in (
                f"no gradient: {_names(cut)}" if cut else "",
                f"{len(hidden)} tensor(s) ({_shapes(hidden)}) get gradients but are not model parameters, so "
                "the optimiser never updates them"
                if hidden
                else "",
            )
            if part
        )
    return CheckResult(
        "gradient flow",
        PASS if ok else FAIL,
        measured,
        "every parameter gets a non-zero gradient; every tensor with one is a parameter",
        "part of the network is cut from the loss (a detach() or an unused branch), or layers kept in a plain list "
        "or dict are hidden from model.parameters() and so from the optimiser",
        value=float(len(cut) + len(hidden)),
    )


def _names(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _shapes(tensors: list[torch.Tensor]) -> str:
    return ", ".join(str(tuple(tensor.shape)) for tensor in tensors[:SHOWN])
