"""read_lines: UTF-8 text by line, plain or gzipped, where only a newline ends a line, and every
problem is one error naming the file (and the line).

Fuzzed (Hypothesis max_examples):
test_fuzz_any_bytes_are_lines_or_one_error_naming_the_file_and_line (150) +
test_fuzz_lines_of_100000_characters (15) = 165 cases, of the 1182 over the tokenizers, the data
readers and the CLI (benchmarks/results/reliability.md).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiayn.data.files import read_lines, read_text
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


# --- fuzzed files ----------------------------------------------------------------------------
# Any bytes, and text with hostile pieces spliced in (bytes that are not UTF-8, a truncated
# sequence, an encoded surrogate, CR LF, byte-order marks, control and line-separator
# characters), plain or gzipped; empty files included. deadline=None on purpose: writing and
# reading files on a loaded machine can pass Hypothesis's 200 ms default; the outcome is checked.
PIECES = st.one_of(
    st.text(max_size=20).map(lambda t: t.encode("utf-8")),
    st.sampled_from(
        [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\r\n", b"\n", b"\r", b"\xef\xbb\xbf", b"\x00"]
    ),
    st.sampled_from(["\u2028", "\x85", "\x0b", "\x0c", "\x1c", "\u3000", "\t"]).map(str.encode),
)
FILE_BYTES = st.one_of(st.binary(max_size=200), st.lists(PIECES, max_size=12).map(b"".join))


def _expected_lines(text: str) -> list[str]:
    lines = text.removeprefix("\ufeff").split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


@settings(max_examples=150, deadline=None)
@given(data=FILE_BYTES, zipped=st.booleans())
def test_fuzz_any_bytes_are_lines_or_one_error_naming_the_file_and_line(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, zipped: bool
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / ("f.txt.gz" if zipped else "f.txt")
    path.write_bytes(gzip.compress(data) if zipped else data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        with pytest.raises(AiaynError) as info:
            read_lines(path)
        assert str(info.value).startswith(f"{path}:{line}: not UTF-8 (byte ")
        assert "\n" not in str(info.value)
        return
    assert read_lines(path) == _expected_lines(text)
    assert read_text(path) == text.removeprefix("\ufeff")


@settings(max_examples=15, deadline=None)
@given(piece=st.text(min_size=1, max_size=8), lines=st.integers(1, 3))
def test_fuzz_lines_of_100000_characters(
    tmp_path_factory: pytest.TempPathFactory, piece: str, lines: int
) -> None:
    long = (piece * 100_000)[:100_000]
    path = tmp_path_factory.mktemp("fuzz") / "long.txt"
    path.write_bytes("\n".join([long] * lines).encode("utf-8"))
    assert read_lines(path) == _expected_lines("\n".join([long] * lines))
