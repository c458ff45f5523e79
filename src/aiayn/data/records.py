"""Records from the user's own data files: JSON lines, CSV or TSV, plain or gzipped.

`read_records(path, fields=("source", "target"))` reads every record of a file and keeps the
named fields as text. The format comes from the suffix: `.jsonl`, `.csv`, `.tsv`, each optionally
followed by `.gz`. Files are UTF-8 (a byte-order mark is dropped). CSV and TSV files start with a
header row naming their columns; CSV follows the usual quoting rules (a quoted value may span
lines), TSV has no quoting: a line is cut at every tab.

Every problem with the file is an AiaynError of one line naming the file and the line:
`data.csv:7: expected 3 columns (the header has 3), got 4`. A record whose required value is
empty or only whitespace is skipped and counted, never silently shifted or guessed; values are
returned stripped of surrounding whitespace.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiayn.data.files import read_text
from aiayn.errors import AiaynError

logger = logging.getLogger(__name__)

RECORD_FORMATS: tuple[str, ...] = (".jsonl", ".csv", ".tsv")


@dataclass(frozen=True)
class Records:
    """The records of a file: `rows[i][field]` is text; `skipped` records had an empty field."""

    rows: list[dict[str, str]]
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.rows)


def record_format(path: str | Path) -> str:
    """ ".jsonl", ".csv" or ".tsv", from the suffix of `path` (a final ".gz" is looked through)."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    if not suffixes or suffixes[-1] not in RECORD_FORMATS:
        accepted = ", ".join(f"{s}, {s}.gz" for s in RECORD_FORMATS)
        raise AiaynError(
            f"{path}: cannot tell the format from the name; expected one of {accepted}"
        )
    return suffixes[-1]


def read_records(path: str | Path, *, fields: Sequence[str]) -> Records:
    """Read the records of `path`, keeping `fields` (all required) of each as stripped text.

    JSON values may be strings, numbers or booleans (written as JSON spells them: `true`);
    `null` counts as empty. Raises AiaynError naming the file and line for a missing file, an
    empty file, text that is not UTF-8, a line that is not a JSON object, a missing field (the
    message lists the fields the file has), a CSV/TSV row with the wrong number of columns, or
    a file whose every record has an empty required field.
    """
    fields = list(fields)
    if not fields:
        raise ValueError("fields must name at least one field, got none")
    path = Path(path)
    kind = record_format(path)
    text = read_text(path)
    if not text.strip():
        raise AiaynError(f"{path}:1: the file is empty")
    numbered = (
        _json_lines(path, text) if kind == ".jsonl" else _table_rows(path, text, kind, fields)
    )
    rows: list[dict[str, str]] = []
    skipped: list[int] = []
    for line, record in numbered:
        _check_fields(path, line, fields, list(record))
        values = {f: _text(path, line, f, record[f]) for f in fields}
        if all(values.values()):
            rows.append(values)
        else:
            skipped.append(line)
    if not rows and not skipped:
        raise AiaynError(f"{path}:2: the file has a header but no records")
    if skipped:
        logger.warning(
            "%s: skipped %d of %d records with an empty %s (first at line %d)",
            path,
            len(skipped),
            len(skipped) + len(rows),
            " or ".join(fields),
            skipped[0],
        )
    if not rows:
        raise AiaynError(
            f"{path}:{skipped[0]}: all {len(skipped)} records have an empty "
            f"{' or '.join(fields)}; nothing to read"
        )
    return Records(rows=rows, skipped=len(skipped))


def _json_lines(path: Path, text: str) -> Iterator[tuple[int, dict[str, object]]]:
    """(line number, object) for every non-blank line; only "\\n" ends a line in JSON lines."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise AiaynError(
                f"{path}:{number}: invalid JSON ({error.msg} at column {error.colno})"
            ) from None
        if not isinstance(record, dict):
            raise AiaynError(
                f"{path}:{number}: expected a JSON object, got {type(record).__name__}"
            )
        yield number, record


def _table_rows(
    path: Path, text: str, kind: str, fields: Sequence[str]
) -> Iterator[tuple[int, dict[str, object]]]:
    """(line number where the row starts, {column: value}) for every non-blank data row; the
    header must name every one of `fields`."""
    if kind == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    else:  # TSV: no quoting, a tab always separates
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    start = 1
    header: list[str] | None = None
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if header is None:
                header = [name.strip() for name in row]
                twice = sorted({name for name in header if header.count(name) > 1})
                if twice:
                    raise AiaynError(f"{path}:{line}: the header names {twice[0]!r} twice")
                _check_fields(path, line, fields, header)
                continue
            if len(row) != len(header):
                raise AiaynError(
                    f"{path}:{line}: expected {len(header)} columns (the header has "
                    f"{len(header)}), got {len(row)}"
                )
            yield line, dict(zip(header, row, strict=True))
    except csv.Error as error:
        raise AiaynError(f"{path}:{reader.line_num}: malformed CSV ({error})") from None


def _check_fields(path: Path, line: int, fields: Sequence[str], has: list[str]) -> None:
    missing = [f for f in fields if f not in has]
    if missing:
        raise AiaynError(
            f"{path}:{line}: missing field {', '.join(map(repr, missing))} "
            f"(the file has fields: {', '.join(has) or 'none'})"
        )


def _text(path: Path, line: int, field: str, value: object) -> str:
    """A field's value as stripped text; lists and objects are an error."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value).strip()
    raise AiaynError(
        f"{path}:{line}: field {field!r} must be text, a number or a boolean, "
        f"got a JSON {type(value).__name__}"
    )


__all__ = ["RECORD_FORMATS", "Records", "read_records", "record_format"]
