"""What a language model writes as it trains: a sample continuing the same validation prompt at the end of every
epoch, drawn with the same random seed each time, so that the samples differ by what the model learned alone."""

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sweepwise.data.text_corpus import TokenData

NEW_TOKENS = 200
PROMPT_TOKENS = 32
SAMPLE_SEED = 0


@torch.no_grad()
def generate(model: nn.Module, prompt: torch.Tensor, new_tokens: int, context: int, seed: int) -> torch.Tensor:
    """`prompt` (1, steps) followed by `new_tokens` tokens sampled one at a time from the model's next-token
    distribution, reading at most the last `context` tokens."""
    generator = torch.Generator().manual_seed(seed)
    tokens = prompt
    for _ in range(new_tokens):
        logits = model(tokens[:, -context:])[:, -1].float()
        following = torch.multinomial(F.softmax(logits, dim=-1).cpu(), 1, generator=generator)
        tokens = torch.cat([tokens, following.to(tokens.device)], dim=1)
    return tokens


class Generations:
    """A step probe of the training loop: a generated sample every `every` steps, kept with its step."""

    def __init__(self, data: TokenData, every: int) -> None:
        self.data, self.every = data, every
        self.prompt = next(data.val_batches(1))[0][:, :PROMPT_TOKENS]
        self.samples: list[tuple[int, str]] = []

    def __call__(self, step: int, model: nn.Module) -> None:
        was_training = model.training
        model.eval()
        tokens = generate(model, self.prompt, NEW_TOKENS, self.data.context, SAMPLE_SEED)
        model.train(was_training)
        self.samples.append((step, self.data.decode(tokens[0, PROMPT_TOKENS:].tolist())))

    def state_dict(self) -> dict[str, Any]:
        return {"samples": list(self.samples)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.samples = [(int(step), str(text)) for step, text in state["samples"]]

    def save(self, path: Path) -> list[Path]:
        """The samples as text, beside `path` (`samples.txt`); none before the first."""
        if not self.samples:
            return []
        written = path.with_name("samples.txt")
        prompt = self.data.decode(self.prompt[0].tolist())
        parts = [f"prompt: {prompt!r}\n"]
        parts += [f"\n--- epoch {step // self.every} (step {step}) ---\n{text}\n" for step, text in self.samples]
        written.write_text("".join(parts), encoding="utf-8")
        return [written]
