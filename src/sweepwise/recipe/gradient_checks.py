"""Where the loss's gradient goes: the parameters of every layer that runs get gradients, and every tensor that
gets one is updated by the optimiser.

Watched over a few real optimiser steps, not one backward pass at init: architectures that zero a branch's last
scale at init (zero-init residuals) give that branch its first gradients only after a step."""

from collections.abc import Iterator

import torch
import torch.nn.functional as F
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


def _direct_parameters(module: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    return module.named_parameters(recurse=False)


def gradient_flow(pipeline: Pipeline, seed: int) -> CheckResult:
    """FAIL when a layer that runs in the forward pass, and whose output changes the model's, gets no gradient in
    any of its own parameters over `STEPS` steps (a `detach()` cuts it from the loss), or when a tensor gets
    gradients without being a model parameter (layers in a plain list: the optimiser never sees them); WARN for
    parameters that never get one otherwise (unused: a masked-modelling token in a classifier, a branch whose
    output the head ignores)."""
    model = pipeline.model(seed).train()
    optimizer = pipeline.optimizer(model)
    ran: set[nn.Module] = set()
    hooks = [module.register_forward_hook(lambda m, *_: ran.add(m)) for module in model.modules()]
    parameter_ids = {id(parameter) for parameter in model.parameters()}
    got: set[int] = set()
    hidden: list[torch.Tensor] = []
    for step, (inputs, labels) in zip(range(STEPS), pipeline.batches(seed), strict=False):
        with pipeline.autocast():
            loss = F.cross_entropy(model(inputs).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        if step == 0:
            hidden = [leaf for leaf in _trained_leaves(loss) if id(leaf) not in parameter_ids]
        got |= {id(p) for p in model.parameters() if p.grad is not None and bool(p.grad.any())}
        optimizer.step()
    for hook in hooks:
        hook.remove()
    cut, unused = [], []
    probe = next(pipeline.batches(seed))[0]
    for module_name, module in model.named_modules():
        own = [(name, p) for name, p in _direct_parameters(module) if p.requires_grad]
        missing = [f"{module_name}.{name}".lstrip(".") for name, p in own if id(p) not in got]
        if missing and module in ran and len(missing) == len(own) and _output_matters(model, module, probe):
            cut.append(module_name or type(module).__name__)
        elif missing:
            unused += missing
    problems = [
        f"no gradient in {STEPS} steps for layers that ran: {_names(cut)}" if cut else "",
        f"{len(hidden)} tensor(s) ({_shapes(hidden)}) get gradients but are not model parameters, so the "
        "optimiser never updates them"
        if hidden
        else "",
        f"parameters that never got a gradient: {_names(unused)}" if unused else "",
    ]
    status = FAIL if cut or hidden else (WARN if unused else PASS)
    return CheckResult(
        "gradient flow",
        status,
        "; ".join(problem for problem in problems if problem) or f"every parameter got a gradient in {STEPS} steps",
        "every layer that runs gets gradients; every tensor with one is a parameter",
        "part of the network is cut from the loss (a detach()), or layers kept in a plain list or dict are hidden "
        "from model.parameters() and so from the optimiser"
        if status == FAIL
        else "some parameters are never used by the loss (harmless if intended, such as a masked-modelling token)",
        value=float(len(cut) + len(hidden)),
    )


def _output_matters(model: nn.Module, module: nn.Module, inputs: torch.Tensor) -> bool:
    """Whether noise added to `module`'s output changes the model's output: a layer whose value is used but whose
    gradient never arrives is cut from the loss (a `detach()`); one whose value is not used is merely unused."""

    def perturb(_: nn.Module, __: object, output: object) -> object:
        return output + torch.randn_like(output) if isinstance(output, torch.Tensor) else output

    model.eval()
    with torch.no_grad():
        plain = model(inputs)
        hook = module.register_forward_hook(perturb)
        try:
            noisy = model(inputs)
        finally:
            hook.remove()
    model.train()
    return not torch.equal(plain, noisy)


def _names(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _shapes(tensors: list[torch.Tensor]) -> str:
    return ", ".join(str(tuple(tensor.shape)) for tensor in tensors[:SHOWN])
