"""A small causal transformer language model, in the layout of GPT-2: token and position embeddings, `layers`
pre-norm blocks of masked self-attention and an MLP, a final norm and a linear head over the vocabulary."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sweepwise.errors import ConfigError
from sweepwise.models.shapes import check_dropout, check_positive


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t attends to positions <= t only."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.proj_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        q, k, v = (t.view(batch, steps, self.heads, width // self.heads).transpose(1, 2) for t in (q, k, v))
        dropout = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(batch, steps, width)
        out: torch.Tensor = self.proj_dropout(self.proj(y))
        return out


class Block(nn.Module):
    """x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads, dropout)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x))
        out: torch.Tensor = x + self.mlp(self.mlp_norm(x))
        return out


class Transformer(nn.Module):
    """Token ids (batch, steps) -> next-token logits (batch, steps, vocabulary). `context` is the longest sequence
    it reads (its position embeddings); by default the data's sequence length."""

    def __init__(
        self,
        input_shape: Sequence[int],
        num_outputs: int,
        layers: int = 2,
        heads: int = 4,
        width: int = 128,
        context: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(input_shape) != 1:
            raise ConfigError("model", "transformer", f"needs token sequences; the data gives shape {input_shape}")
        layers, heads = check_positive("model.layers", layers), check_positive("model.heads", heads)
        width = check_positive("model.width", width)
        if width % heads:
            raise ConfigError("model.width", width, f"must be a multiple of model.heads={heads}")
        context = check_positive("model.context", context if context is not None else input_shape[0])
        if input_shape[0] > context:
            raise ConfigError("model.context", context, f"is shorter than the data's sequences of {input_shape[0]}")
        dropout = check_dropout(dropout)
        self.context = context
        self.token_embedding = nn.Embedding(num_outputs, width)
        self.position_embedding = nn.Embedding(context, width)
        self.embedding_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(width, heads, dropout) for _ in range(layers))
        self.final_norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_outputs)
        self.apply(_init_weights)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.embedding_dropout(self.token_embedding(tokens) + self.position_embedding(positions))
        for block in self.blocks:
            x = block(x)
        logits: torch.Tensor = self.head(self.final_norm(x))
        return logits


def _init_weights(module: nn.Module) -> None:
    """GPT-2's initialisation: small normal weights, zero biases."""
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
