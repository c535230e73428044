"""A character corpus for language modelling: the text of the standard library's `pydoc_data.topics` (about 465,000
characters of Python's reference documentation, so nothing to download), or a UTF-8 text file of the user's own.

The text is cut into train and validation parts at one point (the last `val_fraction` of the characters is
validation), so that no sequence straddles the split and validation text is never trained on, then into sequences
of `context` + 1 characters, each an input of `context` token ids and its targets, the same ids one step later.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sweepwise.data.augment import Augment
from sweepwise.data.module import Batch, TensorData
from sweepwise.errors import ConfigError, DataError


def pydoc_topics() -> str:
    """The reference documentation's topics, in a fixed order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name] for name in sorted(topics))


class TokenData(TensorData):
    """Sequences of token ids (inputs, and targets one step later), held as two integer tensors each; the
    vocabulary is `class_names`: the model predicts one of them at every position."""

    def _tensors(self, inputs: np.ndarray, labels: np.ndarray) -> Batch:
        return torch.from_numpy(inputs.astype(np.int64)), torch.from_numpy(labels.astype(np.int64))

    @property
    def context(self) -> int:
        """The tokens of one input sequence."""
        return self.input_shape[0]

    def decode(self, tokens: Sequence[int]) -> str:
        return "".join(self.class_names[int(token)] for token in tokens)


def sequences(ids: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive windows of `context` + 1 tokens, overlapping by one: (inputs, targets shifted by one)."""
    count = (len(ids) - 1) // context
    if count < 1:
        raise DataError(f"a text of {len(ids)} characters holds no sequence of {context} + 1")
    windows = np.stack([ids[start * context : start * context + context + 1] for start in range(count)])
    return windows[:, :-1], windows[:, 1:]


def load_text(
    path: str | None = None,
    context: int = 64,
    val_fraction: float = 0.1,
    max_chars: int | None = None,
) -> TokenData:
    """The corpus (the standard library's documentation, or the file at `path`), its first `max_chars`
    characters if set, as character sequences of `context` tokens."""
    if int(context) < 1:
        raise ConfigError("data.context", context, "must be >= 1")
    if not 0.0 < float(val_fraction) < 1.0:
        raise ConfigError("data.val_fraction", val_fraction, "must be in (0, 1)")
    whole = _read(path)
    text = whole[: max_chars or None]
    vocabulary = sorted(set(text))
    index = {char: token for token, char in enumerate(vocabulary)}
    ids = np.fromiter((index[char] for char in text), dtype=np.int64, count=len(text))
    cut = int(len(ids) * (1.0 - float(val_fraction)))
    shortened = max_chars if len(text) < len(whole) else None
    _check_long_enough(path, shortened, len(ids), min(cut, len(ids) - cut), int(context))
    train, val = sequences(ids[:cut], int(context)), sequences(ids[cut:], int(context))
    return TokenData(train, val, vocabulary, Augment())


def _check_long_enough(path: str | None, max_chars: int | None, length: int, shorter: int, context: int) -> None:
    """Both parts of the text (training, then validation: the `shorter` of them) must hold a sequence of `context`
    tokens and the one after it; the error names the key that decides: `data.max_chars` where it cut the text
    (`max_chars` given here only then), else the text itself."""
    if shorter >= context + 1:
        return
    key, value = ("data.max_chars", max_chars) if max_chars else ("data.path", path)
    raise ConfigError(
        key,
        value,
        f"the text has {length} characters, so one of its training and validation parts (data.val_fraction) has "
        f"{shorter}, fewer than a sequence of data.context={context} and the character after it: use a longer text "
        "or a shorter data.context",
    )


def _read(path: str | None) -> str:
    if path is None:
        return pydoc_topics()
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError("data.path", path, f"no such file (in {Path.cwd()})" if not file.exists() else "not a file")
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError("data.path", path, f"cannot be read as UTF-8 text ({error})") from error
