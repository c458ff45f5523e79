"""The shared interface: special-token ids and vocabulary checks."""

from __future__ import annotations

import pytest

from aiayn.tokenizers import SPECIAL_TOKENS, WordTokenizer


def test_special_tokens_convention() -> None:
    assert SPECIAL_TOKENS == ("<pad>", "<unk>", "<bos>", "<eos>")


def test_vocabulary_must_start_with_specials_and_not_repeat() -> None:
    with pytest.raises(ValueError, match="must start with"):
        WordTokenizer(tokens=["<unk>", "<pad>", "<bos>", "<eos>", "a"])
    with pytest.raises(ValueError, match="duplicates"):
        WordTokenizer(tokens=[*SPECIAL_TOKENS, "a", "a"])


def test_special_lookalike_text_is_not_special() -> None:
    tok = WordTokenizer.train(["<eos> pad"])
    assert 3 not in tok.encode("<eos>")
