"""read_lines: UTF-8 text by line, plain or gzipped, where only a newline ends a line, and every
problem is one error naming the file (and the line)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from aiayn.data.files import read_lines
from aiayn.errors import AiaynError

LINES = ["ein Hund läuft", "", "zwei Katzen"]


def test_plain_and_gzipped_files_read_the_same(tmp_path: Path):
    plain = tmp_path / "a.txt"
    plain.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    zipped = tmp_path / "a.txt.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    assert read_lines(plain) == LINES
    assert read_lines(zipped) == LINES
    assert read_lines(str(plain)) == LINES  # a str path too


def test_the_last_line_needs_no_newline(tmp_path: Path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"one\ntwo")
    assert read_lines(path) == ["one", "two"]
    path.write_bytes(b"one\ntwo\n\n")  # a blank last line is a line
    assert read_lines(path) == ["one", "two", ""]
    path.write_bytes(b"")
    assert read_lines(path) == []


def test_crlf_line_endings_are_taken_off(tmp_path: Path):
    path = tmp_path / "windows.txt"
    path.write_bytes(b"one\r\ntwo\r\n\r\nthree")
    assert read_lines(path) == ["one", "two", "", "three"]


def test_a_byte_order_mark_is_not_text(tmp_path: Path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfone\ntwo\n")
    assert read_lines(path) == ["one", "two"]
    zipped = tmp_path / "bom.txt.gz"
    zipped.write_bytes(gzip.compress(b"\xef\xbb\xbfone\n"))
    assert read_lines(zipped) == ["one"]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\r"])
def test_only_a_newline_ends_a_line(tmp_path: Path, separator: str):
    """str.splitlines would cut at each of these and shift a parallel corpus out of alignment."""
    path = tmp_path / "a.txt"
    path.write_text(f"first{separator}half\nsecond\n", encoding="utf-8", newline="")
    assert read_lines(path) == [f"first{separator}half", "second"]


def test_invalid_utf8_names_the_file_the_line_and_the_byte(tmp_path: Path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"fine\nalso fine\ncaf\xe9\n")
    with pytest.raises(AiaynError) as error:
        read_lines(path)
    assert str(error.value) == f"{path}:3: not UTF-8 (byte b'\\xe9' at offset 18)"
    zipped = tmp_path / "latin1.txt.gz"
    zipped.write_bytes(gzip.compress(b"\xff\n"))
    with pytest.raises(AiaynError, match=r"latin1\.txt\.gz:1: not UTF-8"):
        read_lines(zipped)


def test_a_missing_file_is_named(tmp_path: Path):
    for name in ("nothing.txt", "nothing.txt.gz"):
        with pytest.raises(AiaynError, match=f"file not found: .*{name}"):
            read_lines(tmp_path / name)


def test_a_damaged_gzip_file_is_one_error_naming_it(tmp_path: Path):
    not_gzip = tmp_path / "plain.gz"
    not_gzip.write_bytes(b"just text\n")
    with pytest.raises(AiaynError, match=r"cannot read .*plain\.gz"):
        read_lines(not_gzip)
    truncated = tmp_path / "cut.gz"
    truncated.write_bytes(gzip.compress(b"some text\n" * 100)[:-12])
    with pytest.raises(AiaynError, match=r"cannot read .*cut\.gz"):
        read_lines(truncated)


def test_a_directory_is_not_a_file(tmp_path: Path):
    with pytest.raises(AiaynError, match=f"cannot read {tmp_path}"):
        read_lines(tmp_path)
