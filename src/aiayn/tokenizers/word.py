"""Word-level tokens: the text cut at word boundaries, as `re.split(r"\b", text)` cuts it.

The pieces are the words *and* the runs between them (spaces, punctuation, newlines), so nothing
is lost: "Hi, you." -> ["Hi", ", ", "you", "."], and for text whose pieces are all in the
vocabulary `decode(encode(text)) == text`. A piece outside the vocabulary becomes <unk>.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aiayn.tokenizers.base import VocabTokenizer

_WORD_BOUNDARY = re.compile(r"\b")


class WordTokenizer(VocabTokenizer):
    """Word and between-word pieces, looked up in a vocabulary built by `WordTokenizer.train`."""

    kind = "word"

    @staticmethod
    def _pieces(text: str) -> Iterable[str]:
        # re.split yields an empty string at each end of the text when it starts or ends with a
        # word; filter(None, ...) drops them without a Python-level loop.
        return filter(None, _WORD_BOUNDARY.split(text))
