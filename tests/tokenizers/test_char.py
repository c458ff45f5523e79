"""CharTokenizer: one token per character."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from aiayn.tokenizers import UNK_ID, CharTokenizer, load_tokenizer


@given(text=st.text(max_size=200))
def test_round_trip_of_in_vocabulary_text(text: str) -> None:
    tok = CharTokenizer.train([text])
    ids = tok.encode(text)
    assert len(ids) == len(text) and UNK_ID not in ids
    assert tok.decode(ids) == text


def test_vocabulary_and_unknown_characters(tmp_path: Path) -> None:
    tok = CharTokenizer.train(["abba", "c"])
    assert tok.tokens == ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c"]
    assert tok.encode("cab!") == [6, 4, 5, UNK_ID]
    assert tok.decode(tok.encode("cab!")) == "cab<unk>"
    assert CharTokenizer.train(["abba", "c"], min_freq=2).tokens[4:] == ["a", "b"]
    loaded = load_tokenizer(tok.save(tmp_path))
    assert isinstance(loaded, CharTokenizer) and loaded.tokens == tok.tokens
