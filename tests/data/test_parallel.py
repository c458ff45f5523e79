"""Parallel corpora: alignment is kept or the read fails loudly; Multi30k by name."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

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
