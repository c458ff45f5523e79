"""The shared interface: special-token ids, vocabulary checks, load_tokenizer errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiayn.errors import AiaynError
from aiayn.tokenizers import SPECIAL_TOKENS, WordTokenizer, load_tokenizer
from aiayn.tokenizers.base import META_FILE


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


def test_load_tokenizer_errors(tmp_path: Path) -> None:
    with pytest.raises(AiaynError, match="no tokenizer"):
        load_tokenizer(tmp_path)
    meta = tmp_path / META_FILE
    meta.write_text("{not json")
    with pytest.raises(AiaynError, match="cannot read"):
        load_tokenizer(tmp_path)
    meta.write_text(json.dumps({"kind": "sentencepiece", "format_version": 1}))
    with pytest.raises(AiaynError, match="sentencepiece"):
        load_tokenizer(tmp_path)
    meta.write_text(json.dumps({"kind": "word", "format_version": 99, "tokens": []}))
    with pytest.raises(AiaynError, match="format_version"):
        load_tokenizer(tmp_path)
    meta.write_text(json.dumps({"kind": "word", "format_version": 1}))
    with pytest.raises(AiaynError, match="no list of tokens"):
        load_tokenizer(tmp_path)
