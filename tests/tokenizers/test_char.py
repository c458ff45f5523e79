"""CharTokenizer: one token per character.

Fuzzed (Hypothesis max_examples): test_fuzz_any_text_gives_known_ids_and_unk_or_names_a_surrogate
(150) + test_fuzz_a_line_of_100000_characters (15) = 165 cases, of the 1182 over the tokenizers,
the data readers and the CLI (benchmarks/results/reliability.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiayn.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID, CharTokenizer, load_tokenizer


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


# --- fuzzed hostile text -------------------------------------------------------------------
# Any code points, lone surrogates included (what undecodable bytes become in a command-line
# argument), whitespace and line separators only, control / format / private-use characters;
# and, in a test of its own, lines of 100,000 characters. deadline=None on purpose: a 100,000-
# character line, or any example on a loaded 2-core machine, can pass Hypothesis's 200 ms
# default; the outcome is what is checked, never the time.
HOSTILE = st.one_of(
    st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=200),
    st.text(alphabet=" \t\r\n\x0b\x0c\x1c\x1d\x1e\x85\xa0\u2028\u2029\u3000", max_size=50),
    st.text(st.characters(categories=["Cc", "Cf", "Co", "Zl", "Zp"]), max_size=50),
)
LONG = st.builds(lambda piece: (piece * 100_000)[:100_000], st.text(min_size=1, max_size=8))


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


@pytest.fixture(scope="module")
def fuzz_tok() -> CharTokenizer:
    return CharTokenizer.train(["The cat sat on the mat, and the dog ran.\n\tThe end!"])


@settings(max_examples=150, deadline=None)
@given(text=HOSTILE)
def test_fuzz_any_text_gives_known_ids_and_unk_or_names_a_surrogate(
    fuzz_tok: CharTokenizer, text: str
) -> None:
    """Every piece is its vocabulary id or <unk>; nothing else, nothing lost. A lone surrogate
    is a ValueError naming it (the CLI's one-line error, exit 2)."""
    if _has_surrogate(text):
        with pytest.raises(ValueError, match="lone surrogate"):
            fuzz_tok.encode(text)
        return
    ids = fuzz_tok.encode(text)
    pieces = list(text)
    assert len(ids) == len(pieces)
    assert all(0 <= i < fuzz_tok.vocab_size and i not in (PAD_ID, BOS_ID, EOS_ID) for i in ids)
    unk = [fuzz_tok.token_to_id(p) is None for p in pieces]
    assert [i == UNK_ID for i in ids] == unk
    assert fuzz_tok.decode(ids) == "".join(
        "<unk>" if u else p for p, u in zip(pieces, unk, strict=True)
    )


@settings(max_examples=15, deadline=None)
@given(text=LONG)
def test_fuzz_a_line_of_100000_characters(fuzz_tok: CharTokenizer, text: str) -> None:
    ids = fuzz_tok.encode(text)
    assert len(ids) == len(list(text))
    assert fuzz_tok.decode(ids).replace("<unk>", "") == "".join(
        p for p in list(text) if fuzz_tok.token_to_id(p) is not None
    )
