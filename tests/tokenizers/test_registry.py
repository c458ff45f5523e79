"""load_tokenizer: a saved tokenizer read back by the kind its file names, and one error for
every file that does not describe one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiayn.errors import AiaynError
from aiayn.tokenizers import (
    TOKENIZER_KINDS,
    BPETokenizer,
    CharTokenizer,
    WordTokenizer,
    load_tokenizer,
)
from aiayn.tokenizers.base import META_FILE

TEXTS = ["the cat sat on the mat", "the dog sat on the log"] * 3


def test_every_kind_is_registered_under_its_own_name() -> None:
    kinds = {"word": WordTokenizer, "char": CharTokenizer, "bpe": BPETokenizer}
    assert kinds == TOKENIZER_KINDS
    assert all(cls.kind == kind for kind, cls in TOKENIZER_KINDS.items())


@pytest.mark.parametrize(
    "make",
    [
        lambda: WordTokenizer.train(TEXTS),
        lambda: CharTokenizer.train(TEXTS),
        lambda: BPETokenizer.train(TEXTS, vocab_size=40, length=len(TEXTS)),
    ],
    ids=["word", "char", "bpe"],
)
def test_a_saved_tokenizer_comes_back_as_its_kind(tmp_path: Path, make) -> None:
    tok = make()
    tok.save(tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text("utf-8"))
    loaded = load_tokenizer(tmp_path)
    assert type(loaded) is type(tok) and meta["kind"] == tok.kind
    assert loaded.vocab_size == tok.vocab_size
    for text in ("the cat sat on the log", "a new mat"):
        assert loaded.encode(text) == tok.encode(text)


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
    meta.write_text(json.dumps(["word"]))
    with pytest.raises(AiaynError, match="names tokenizer kind None; known kinds: word, char, bpe"):
        load_tokenizer(tmp_path)
