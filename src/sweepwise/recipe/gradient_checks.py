"""Where the loss's gradient goes: every parameter that changes the model's output gets gradients, and every tensor
that gets one is updated by the optimiser.

Watched over a few real optimiser steps, not one backward pass at init: architectures that zero a branch's last
scale at init (zero-init residuals) give that branch its first gradients only after a step."""

import torch
from torch import nn

from sweepwise.recipe.pipeline import Pipeline
from sweepwise.recipe.report import FAIL, PASS, WARN, CheckResult

STEPS = 3
SHOWN = 3  # names shown in a result


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
    """FAIL when a parameter that changes the model's output gets no gradient over `STEPS` steps (a `detach()`
    cuts it from the loss), or when a tensor gets gradients without being a model parameter (layers in a plain
    list: the optimiser never sees them); WARN for parameters without gradients that change nothing (unused: a
    masked-modelling token in a classifier, a branch the head ignores, a bias over a single attention key)."""
    model = pipeline.model(seed).train()
    optimizer = pipeline.optimizer(model)
    parameter_ids = {id(parameter) for parameter in model.parameters()}
    got: set[int] = set()
    hidden: list[torch.Tensor] = []
    for step, (inputs, labels) in zip(range(STEPS), pipeline.batches(seed), strict=False):
        with pipeline.autocast():
            loss = pipeline.task.loss(model(inputs).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        if step == 0:
            hidden = [leaf for leaf in _trained_leaves(loss) if id(leaf) not in parameter_ids]
        got |= {id(p) for p in model.parameters() if p.grad is not None and bool(p.grad.any())}
        optimizer.step()
    probe = next(pipeline.batches(seed))[0]
    missing = [(name, p) for name, p in model.named_parameters() if p.requires_grad and id(p) not in got]
    cut = [name for name, parameter in missing if _changes_output(model, parameter, probe)]
    unused = [name for name, _ in missing if name not in cut]
    problems = [
        f"parameters that change the output but got no gradient in {STEPS} steps: {_names(cut)}" if cut else "",
        f"{len(hidden)} tensor(s) ({_shapes(hidden)}) get gradients but are not model parameters, so the "
        "optimiser never updates them"
        if hidden
        else "",
        f"parameters that change nothing and got no gradient: {_names(unused)}" if unused else "",
    ]
    status = FAIL if cut or hidden else (WARN if unused else PASS)
    return CheckResult(
        "gradient flow",
        status,
        "; ".join(problem for problem in problems if problem) or f"every parameter got a gradient in {STEPS} steps",
        "every parameter that changes the output gets gradients; every tensor with one is a parameter",
        "part of the network is cut from the loss (a detach()), or layers kept in a plain list or dict are hidden "
        "from model.parameters() and so from the optimiser"
        if status == FAIL
        else "some parameters change nothing the loss sees (harmless if intended, such as a masked-modelling token)",
        value=float(len(cut) + len(hidden)),
    )


def _changes_output(model: nn.Module, parameter: nn.Parameter, inputs: torch.Tensor) -> bool:
    """Whether noise added to `parameter` changes the model's output (in evaluation mode, then restored)."""
    model.eval()
    with torch.no_grad():
        plain = model(inputs)
        saved = parameter.detach().clone()
        parameter.add_(torch.randn_like(parameter))
        try:
            noisy = model(inputs)
        finally:
            parameter.copy_(saved)
    model.train()
    return not torch.equal(plain, noisy)


def _names(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _shapes(tensors: list[torch.Tensor]) -> str:
    return ", ".join(str(tuple(tensor.shape)) for tensor in tensors[:SHOWN])
