"""Reading text files the way every data set here needs: UTF-8, plain or gzipped, by line."""

from __future__ import annotations

import gzip
from pathlib import Path

from aiayn.errors import AiaynError


def read_text(path: str | Path) -> str:
    """The text of a UTF-8 file, plain or gzipped (by the .gz suffix), without a byte-order mark.

    Every problem is an AiaynError of one line naming the file (and, for bytes that are not
    UTF-8, the line): `data.txt:7: not UTF-8 (byte b'\\xff' at offset 120)`.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except FileNotFoundError:
        raise AiaynError(f"file not found: {path}") from None
    except (OSError, EOFError) as error:  # gzip raises these for a damaged file
        raise AiaynError(f"cannot read {path}: {error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise AiaynError(
            f"{path}:{line}: not UTF-8 (byte {data[error.start : error.start + 1]!r} "
            f"at offset {error.start})"
        ) from None
    return text.removeprefix("\ufeff")  # a byte-order mark is not text


def read_lines(path: str | Path) -> list[str]:
    """Lines of a UTF-8 text file, plain or gzipped (by the .gz suffix), without line endings.

    Only "\\n" (and a "\\r" before it) ends a line: str.splitlines would also cut at characters
    such as U+2028 or U+0085 inside a sentence and silently shift the alignment.
    """
    lines = read_text(path).split("\n")
    if lines and lines[-1] == "":  # the newline that ends the last line
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
