"""WordTokenizer: the pieces of re.split(r"\b", text), lossless for in-vocabulary text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from aiayn.data.shakespeare import complete_works
from aiayn.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID, WordTokenizer, load_tokenizer


def _pieces(text: str) -> list[str]:
    return [p for p in re.split(r"\b", text) if p]


def test_pieces_are_words_and_the_runs_between_them() -> None:
    text = "Hi, you. Hi!"
    tok = WordTokenizer.train([text])
    assert [tok.id_to_token(i) for i in tok.encode(text)] == ["Hi", ", ", "you", ". ", "Hi", "!"]


@given(text=st.text(max_size=200))
def test_round_trip_of_in_vocabulary_text(text: str) -> None:
    tok = WordTokenizer.train([text])
    ids = tok.encode(text)
    assert [tok.id_to_token(i) for i in ids] == _pieces(text)
    assert UNK_ID not in ids
    assert tok.decode(ids) == text


@given(train=st.text(alphabet="ab ,.", max_size=60), text=st.text(alphabet="abc ,.!", max_size=60))
def test_out_of_vocabulary_pieces_become_unk(train: str, text: str) -> None:
    tok = WordTokenizer.train([train])
    expected = "".join(p if tok.token_to_id(p) is not None else "<unk>" for p in _pieces(text))
    assert tok.decode(tok.encode(text)) == expected


def test_vocabulary_order_is_frequency_then_string() -> None:
    tok = WordTokenizer.train(["b a b c c"])
    assert tok.tokens == ["<pad>", "<unk>", "<bos>", "<eos>", " ", "b", "c", "a"]
    assert tok.token_to_id("a") == 7 and tok.token_to_id("z") is None


def test_min_freq_and_max_size() -> None:
    texts = ["the cat", "the dog", "the cat"]
    assert "dog" not in WordTokenizer.train(texts, min_freq=2).tokens
    small = WordTokenizer.train(texts, max_size=6)
    assert small.vocab_size == 6 and small.tokens[4:] == [" ", "the"]
    with pytest.raises(ValueError, match="min_freq"):
        WordTokenizer.train(texts, min_freq=0)
    with pytest.raises(ValueError, match="max_size"):
        WordTokenizer.train(texts, max_size=3)
    with pytest.raises(TypeError, match="not one string"):
        WordTokenizer.train("the cat")


def test_special_tokens_bos_eos_and_decode() -> None:
    tok = WordTokenizer.train(["hello world"])
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    ids = tok.encode("hello world", add_bos=True, add_eos=True)
    assert ids[0] == BOS_ID and ids[-1] == EOS_ID
    padded = torch.tensor([*ids, PAD_ID, PAD_ID])
    assert tok.decode(padded) == "hello world"  # pad, bos, eos dropped
    assert tok.decode([tok.encode("hello")[0], UNK_ID]) == "hello<unk>"
    assert tok.decode_batch(torch.tensor([ids, ids])) == ["hello world"] * 2
    assert tok.encode_batch(["hello", "world"]) == [tok.encode("hello"), tok.encode("world")]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([tok.vocab_size])


def test_save_and_load(tmp_path: Path) -> None:
    tok = WordTokenizer.train(["Zwei Männer, ein Hund."])
    loaded = load_tokenizer(tok.save(tmp_path / "tok"))
    assert isinstance(loaded, WordTokenizer)
    assert loaded.tokens == tok.tokens
    assert loaded.encode("ein Hund, zwei") == tok.encode("ein Hund, zwei")


def test_complete_works_round_trip() -> None:
    """The whole 5M-character corpus: every work comes back exactly."""
    texts = [text for _, text in complete_works()]
    tok = WordTokenizer.train(texts)
    assert 20_000 < tok.vocab_size < 40_000
    for text in texts:
        assert tok.decode(tok.encode(text)) == text
