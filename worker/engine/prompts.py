"""Prompts to CLIP contexts: token counting, the 77-token limit, and a small cache.

Rerolls and variations repeat their prompt, so encoded prompts are kept (about 240 KB
each in float32) and the text encoder runs only for new text.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from worker.engine.parts import MAX_PROMPT_LENGTH

CACHE_SIZE: Final = 64

Tokens = npt.NDArray[np.int32]


class PromptEncoder:
    """Tokenizes with KerasCV's SimpleTokenizer and encodes with a compiled text encoder."""

    def __init__(self, tokenizer: Any, encode: Callable[[Tokens], Any]) -> None:
        self._tokenizer = tokenizer
        self._encode = encode  # (1, 77) tokens -> (1, 77, 768) context tensor
        self._cache: OrderedDict[str, Any] = OrderedDict()

    def count_tokens(self, text: str) -> int:
        """CLIP tokens in `text`, the start and end tokens included (as KerasCV counts)."""
        return len(self._tokenizer.encode(text))

    def check(self, text: str, what: str) -> None:
        """Raises ValueError naming the count when `text` does not fit CLIP's window."""
        count = self.count_tokens(text)
        if count > MAX_PROMPT_LENGTH:
            raise ValueError(
                f"The {what} is {count} tokens long and the limit is {MAX_PROMPT_LENGTH} "
                "(start and end tokens included); shorten it."
            )

    def tokens(self, text: str, what: str = "prompt") -> Tokens:
        """Padded with the end token, as KerasCV does; "" gives its unconditional tokens."""
        self.check(text, what)
        ids = self._tokenizer.encode(text)
        padded = ids + [self._tokenizer.end_of_text] * (MAX_PROMPT_LENGTH - len(ids))
        return np.asarray([padded], dtype=np.int32)

    def context(self, text: str, what: str = "prompt") -> Any:
        """The (1, 77, 768) float32 context of `text`, from the cache when possible."""
        if text in self._cache:
            self._cache.move_to_end(text)
            return self._cache[text]
        context = self._encode(self.tokens(text, what))
        self._cache[text] = context
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return context
