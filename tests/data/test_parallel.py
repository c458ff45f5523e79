"""Parallel corpora: alignment is kept or the read fails loudly; Multi30k by name.

Fuzzed (Hypothesis max_examples): test_fuzz_aligned_pairs_or_one_error_naming_both_files (150) =
150 cases, of the 1182 over the tokenizers, the data readers and the CLI
(benchmarks/results/reliability.md).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiayn.data.files import read_lines
from aiayn.data.parallel import ParallelCorpus, multi30k, read_parallel
from aiayn.errors import AiaynError


def _write(path: Path, lines: list[str]) -> Path:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def test_reads_plain_and_gzip(tmp_path: Path) -> None:
    src = _write(tmp_path / "a.de.gz", ["Ein Hund .", "Zwei Katzen ."])
    tgt = _write(tmp_path / "a.en", ["A dog .", "Two cats ."])
    corpus = read_parallel(src, tgt)
    assert corpus.pairs() == [("Ein Hund .", "A dog ."), ("Zwei Katzen .", "Two cats .")]
    assert corpus.skipped == 0 and len(corpus) == 2


def test_different_lengths_name_both_files_and_counts(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.txt", ["a", "b", "c"])
    tgt = _write(tmp_path / "t.txt", ["x", "y"])
    with pytest.raises(AiaynError) as info:
        read_parallel(src, tgt)
    message = str(info.value)
    assert str(src) in message and str(tgt) in message and "3" in message and "2" in message


def test_empty_sides_are_skipped_as_pairs_never_shifted(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.txt", ["one", "", "three", "four", "  "])
    tgt = _write(tmp_path / "t.txt", ["eins", "zwei", "  ", "vier", "fünf"])
    corpus = read_parallel(src, tgt)
    assert corpus.pairs() == [("one", "eins"), ("four", "vier")]
    assert corpus.skipped == 3


def test_only_newline_ends_a_line(tmp_path: Path) -> None:
    """U+2028 or U+0085 inside a sentence must not split it (str.splitlines would)."""
    path = tmp_path / "f.txt"
    path.write_bytes("a\u2028b\r\nc\x85d\ne".encode())
    assert read_lines(path) == ["a\u2028b", "c\x85d", "e"]


def test_non_utf8_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.de"
    path.write_bytes(b"gut\nauch gut\nschlecht \xff\n")
    with pytest.raises(AiaynError, match=r"bad\.de:3: not UTF-8"):
        read_parallel(path, path)


def test_missing_and_damaged_files(tmp_path: Path) -> None:
    with pytest.raises(AiaynError, match="file not found"):
        read_lines(tmp_path / "nope.txt")
    damaged = tmp_path / "x.gz"
    damaged.write_bytes(gzip.compress(b"hello\n" * 100)[:-10])
    with pytest.raises(AiaynError, match="cannot read"):
        read_lines(damaged)


def test_corpus_checks_its_own_alignment() -> None:
    with pytest.raises(ValueError, match="same length"):
        ParallelCorpus(src=["a"], tgt=[])


def test_multi30k(shared_data_dir: Path) -> None:
    sizes = {"train": 29_000, "val": 1_014, "test": 1_000}
    for split, size in sizes.items():
        corpus = multi30k(split, data_dir=shared_data_dir)
        assert len(corpus) == size and corpus.skipped == 0
    de_en = multi30k("val", "de-en", data_dir=shared_data_dir)
    en_de = multi30k("val", "en-de", data_dir=shared_data_dir)
    assert de_en.src == en_de.tgt and de_en.tgt == en_de.src
    assert de_en.src[0].startswith("Eine Gruppe von Männern")
    assert de_en.tgt[0].startswith("A group of men")


def test_multi30k_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        multi30k("dev", data_dir=tmp_path)
    with pytest.raises(ValueError, match="direction"):
        multi30k("val", "de-fr", data_dir=tmp_path)


# --- fuzzed parallel files -------------------------------------------------------------------
# Lines of any text but a newline, whitespace-only and empty lines, control and line-separator
# characters, now and then a line of 100,000 characters, in files of equal or different length
# (empty files too). deadline=None on purpose: file writes on a loaded machine can pass
# Hypothesis's 200 ms default; the outcome is checked.
LINE = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=60),
    st.text(alphabet=" \t\r\x0b\x0c\x1c\x85\xa0\u2028\u3000", max_size=5),
    st.just(""),
    st.text(min_size=1, max_size=4)
    .filter(lambda t: "\n" not in t)
    .map(lambda t: (t * 100_000)[:100_000]),
)


def _read_back(lines: list[str]) -> list[str]:
    """The lines as read_lines gives them: a leading byte-order mark and a CR before the newline
    are not text."""
    if lines:
        lines = [lines[0].removeprefix("\ufeff"), *lines[1:]]
    return [line.removesuffix("\r") for line in lines]


@settings(max_examples=150, deadline=None)
@given(src=st.lists(LINE, max_size=8), tgt=st.lists(LINE, max_size=8))
def test_fuzz_aligned_pairs_or_one_error_naming_both_files(
    tmp_path_factory: pytest.TempPathFactory, src: list[str], tgt: list[str]
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    src_path, tgt_path = _write(folder / "a.src", src), _write(folder / "a.tgt", tgt)
    if len(src) != len(tgt):
        with pytest.raises(AiaynError) as info:
            read_parallel(src_path, tgt_path)
        assert str(info.value) == (
            f"parallel files differ in length: {src_path} has {len(src)} lines, "
            f"{tgt_path} has {len(tgt)}"
        )
        return
    corpus = read_parallel(src_path, tgt_path)
    stripped = [
        (s.strip(), t.strip()) for s, t in zip(_read_back(src), _read_back(tgt), strict=True)
    ]
    kept = [(s, t) for s, t in stripped if s and t]
    assert corpus.pairs() == kept
    assert corpus.skipped == len(src) - len(kept)
