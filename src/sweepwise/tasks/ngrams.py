"""The language model's dumb baselines: unigram and bigram models counted on the training tokens.

A unigram model predicts every next token from the token frequencies alone; a bigram model from the current token
(the input at the same position). Their probabilities are add-one smoothed, so an unseen pair costs bits rather
than infinity."""

import math

import torch

Pairs = tuple[torch.Tensor, torch.Tensor]  # (current tokens, next tokens), any shape, the same for both


def _table(train: Pairs, vocabulary: int, order: int) -> torch.Tensor:
    """Counts, add-one smoothed: (vocabulary,) for a unigram model, (vocabulary, vocabulary) for a bigram one."""
    current, following = (t.long().flatten() for t in train)
    if order == 1:
        return torch.bincount(following, minlength=vocabulary).double() + 1.0
    pairs = torch.bincount(current * vocabulary + following, minlength=vocabulary * vocabulary)
    return pairs.reshape(vocabulary, vocabulary).double() + 1.0


def _probabilities(train: Pairs, val: Pairs, order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(each validation position's predicted distribution, its next token)."""
    vocabulary = int(max(int(t.max()) for t in (*train, *val))) + 1
    table = _table(train, vocabulary, order)
    table = table / table.sum(dim=-1, keepdim=True)
    current, following = (t.long().flatten() for t in val)
    return (table.expand(len(current), -1) if order == 1 else table[current]), following


def ngram_accuracy(train: Pairs, val: Pairs, order: int) -> float:
    """How often the model's most likely next token is the validation text's."""
    probabilities, following = _probabilities(train, val, order)
    return float((probabilities.argmax(dim=-1) == following).double().mean())


def ngram_bits(train: Pairs, val: Pairs, order: int) -> float:
    """The validation text's bits per token under the model."""
    probabilities, following = _probabilities(train, val, order)
    return float(-probabilities.gather(1, following[:, None]).log().mean()) / math.log(2)
