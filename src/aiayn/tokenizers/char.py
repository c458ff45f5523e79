"""Character-level tokens, the vocabulary of char-rnn and nanoGPT's Shakespeare models.

Every character is one token; a character not seen in training becomes <unk>.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiayn.tokenizers.base import VocabTokenizer


class CharTokenizer(VocabTokenizer):
    """One token per character, looked up in a vocabulary built by `CharTokenizer.train`."""

    kind = "char"

    @staticmethod
    def _pieces(text: str) -> Iterable[str]:
        return text
