"""read_records: JSON lines, CSV and TSV; every fault is one line naming the file and line.

Fuzzed (Hypothesis max_examples):
test_fuzz_records_read_back_exactly_or_one_error_naming_the_file_and_line (150) +
test_fuzz_any_bytes_are_records_or_one_error_naming_the_file (100) = 250 cases, of the 1182 over
the tokenizers, the data readers and the CLI (benchmarks/results/reliability.md).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiayn.data.records import Records, read_records, record_format
from aiayn.errors import AiaynError

FIELDS = ("source", "target")


def _write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path, fields: tuple[str, ...] = FIELDS) -> str:
    with pytest.raises(AiaynError) as info:
        read_records(path, fields=fields)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


@pytest.mark.parametrize("name", ["d.jsonl", "d.jsonl.gz"])
def test_json_lines(tmp_path: Path, name: str) -> None:
    lines = [
        {"source": "a long text", "target": "short", "extra": [1, 2]},
        {"source": "  spaced  ", "target": 3, "id": 7},
        {"source": "yes", "target": True},
    ]
    path = _write(tmp_path / name, "".join(json.dumps(x) + "\n" for x in lines) + "\n")
    records = read_records(path, fields=FIELDS)
    assert records == Records(
        rows=[
            {"source": "a long text", "target": "short"},
            {"source": "spaced", "target": "3"},
            {"source": "yes", "target": "true"},
        ],
        skipped=0,
    )
    assert len(records) == 3


@pytest.mark.parametrize("name", ["d.csv", "d.CSV.gz"])
def test_csv_with_quotes_spanning_lines(tmp_path: Path, name: str) -> None:
    text = 'text,label\n"one, two",pos\n"line one\nline two",neg\n\nplain,"pos"\n'
    records = read_records(_write(tmp_path / name, text), fields=("label", "text"))
    assert records.rows == [
        {"label": "pos", "text": "one, two"},
        {"label": "neg", "text": "line one\nline two"},
        {"label": "pos", "text": "plain"},
    ]


def test_tsv_keeps_quotes_as_text(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.tsv", 'sentence\tlabel\n"quoted" word\t1\nit\'s\t0\n')
    assert read_records(path, fields=("sentence", "label")).rows == [
        {"sentence": '"quoted" word', "label": "1"},
        {"sentence": "it's", "label": "0"},
    ]


def test_byte_order_mark_is_not_part_of_the_header(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xef\xbb\xbfsource,target\na,b\n")
    assert read_records(path, fields=FIELDS).rows == [{"source": "a", "target": "b"}]


def test_empty_values_are_skipped_counted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = [
        {"source": "a", "target": "b"},
        {"source": "   ", "target": "b"},
        {"source": "c", "target": None},
        {"source": "d", "target": "e"},
    ]
    path = _write(tmp_path / "d.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    with caplog.at_level(logging.WARNING, logger="aiayn.data.records"):
        records = read_records(path, fields=FIELDS)
    assert records.rows == [{"source": "a", "target": "b"}, {"source": "d", "target": "e"}]
    assert records.skipped == 2
    assert "skipped 2 of 4" in caplog.text and "line 2" in caplog.text


def test_every_record_empty_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "source,target\n,x\n ,y\n")
    message = _error(path)
    assert f"{path}:2:" in message and "all 2 records" in message


def test_missing_field_names_the_fields_the_file_has(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "d.jsonl", '{"source": "a", "target": "b"}\n{"source": "a", "tgt": "b"}\n'
    )
    message = _error(path)
    assert f"{path}:2:" in message
    assert "'target'" in message and "source, tgt" in message


def test_missing_column_names_the_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "text,label\na,b\n")
    message = _error(path)
    assert f"{path}:1:" in message
    assert "'source', 'target'" in message and "text, label" in message


def test_invalid_json(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", '{"source": "a", "target": "b"}\n{"source": "a",\n')
    message = _error(path)
    assert f"{path}:2:" in message and "invalid JSON" in message


def test_json_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", '{"source": "a", "target": "b"}\n["a", "b"]\n')
    assert f"{path}:2: expected a JSON object, got list" in _error(path)


def test_json_value_that_is_not_text(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", '{"source": {"a": 1}, "target": "b"}\n')
    message = _error(path)
    assert f"{path}:1:" in message and "'source'" in message and "dict" in message


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "d.tsv"
    path.write_bytes(b"source\ttarget\na\tb\nc\xff\td\n")
    message = _error(path)
    assert f"{path}:3:" in message and "not UTF-8" in message


@pytest.mark.parametrize(
    ("name", "text", "line", "got"),
    [
        ("d.csv", "source,target\na,b\na,b,c\n", 3, "got 3"),
        ("d.tsv", "source\ttarget\na\tb\nonly one\n", 3, "got 1"),
        ("d.csv", 'source,target\n"multi\nline",b\nx,y,z\n', 4, "got 3"),
    ],
)
def test_wrong_column_count(tmp_path: Path, name: str, text: str, line: int, got: str) -> None:
    path = _write(tmp_path / name, text)
    message = _error(path)
    assert f"{path}:{line}:" in message and "expected 2 columns" in message and got in message


@pytest.mark.parametrize("name", ["d.jsonl", "d.csv", "d.tsv.gz"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, "\n  \n")
    assert f"{path}:1: the file is empty" in _error(path)


def test_header_without_records(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "source,target\n")
    assert "a header but no records" in _error(path)


def test_header_naming_a_column_twice(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "source,target,source\na,b,c\n")
    assert f"{path}:1:" in _error(path)


def test_unbalanced_csv_quote(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", 'source,target\n"a"x,b\n')
    assert "malformed CSV" in _error(path)


def test_missing_and_damaged_files(tmp_path: Path) -> None:
    with pytest.raises(AiaynError, match="file not found"):
        read_records(tmp_path / "absent.jsonl", fields=FIELDS)
    damaged = tmp_path / "d.jsonl.gz"
    damaged.write_bytes(b"not gzip at all")
    with pytest.raises(AiaynError, match="cannot read"):
        read_records(damaged, fields=FIELDS)


def test_format_comes_from_the_suffix(tmp_path: Path) -> None:
    assert record_format("a/b.train.jsonl") == ".jsonl"
    assert record_format("b.tsv.gz") == ".tsv"
    for name in ("b.json", "b.txt", "b", "b.gz"):
        with pytest.raises(AiaynError, match=r"\.jsonl, \.jsonl\.gz"):
            record_format(name)


def test_fields_must_be_given(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one field"):
        read_records(tmp_path / "d.csv", fields=())


def test_local_sst2_copy_reads_as_tsv(shared_data_dir: Path) -> None:
    records = read_records(shared_data_dir / "sst2" / "dev.tsv", fields=("sentence", "label"))
    assert len(records) == 872 and records.skipped == 0
    assert {row["label"] for row in records.rows} == {"0", "1"}


# --- fuzzed record files -----------------------------------------------------------------------
# Records whose values are any text (quotes, separators, newlines, control characters), only
# whitespace, numbers, booleans, null, now and then 100,000 characters, written as JSON lines,
# CSV or TSV (plain or gzipped); and files of any bytes under each name. Every case reads back
# exactly or is one error naming the file and line. deadline=None on purpose: file writes on a
# loaded machine can pass Hypothesis's 200 ms default; the outcome is checked.
VALUE = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=" \t\r\n\x0b\x0c\x85\u2028\u3000", max_size=4),
    st.text(alphabet='",\t\n\\x', max_size=6),
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.none(),
    st.text(alphabet="ab ,", min_size=1, max_size=3).map(lambda t: (t * 100_000)[:100_000]),
)
ROWS = st.lists(st.fixed_dictionaries({"source": VALUE, "target": VALUE}), max_size=6)


def _cell(value: object) -> str:
    """How a CSV/TSV writer spells a value."""
    return "" if value is None else str(value)


def _as_text(value: object, kind: str) -> str:
    """The stripped text read_records returns for a written value."""
    if kind == ".jsonl" and isinstance(value, bool):
        return "true" if value else "false"
    return _cell(value).strip()


def _file_text(rows: list[dict[str, object]], kind: str) -> str:
    if kind == ".jsonl":
        return "".join(json.dumps(r) + "\n" for r in rows)
    out = io.StringIO()
    # csv's own line ends (\r\n): then a value holding \r or \n is quoted. (With "\n" a bare
    # \r would go out unquoted, and any CSV reader takes it for the end of a row.)
    writer = csv.writer(out)
    if kind == ".csv":
        writer.writerow(FIELDS)
        writer.writerows([[_cell(r[f]) for f in FIELDS] for r in rows])
        return out.getvalue()
    return "".join(
        "\t".join(map(_cell, row)) + "\n"
        for row in [FIELDS, *[[r[f] for f in FIELDS] for r in rows]]
    )


@settings(max_examples=150, deadline=None)
@given(rows=ROWS, kind=st.sampled_from([".jsonl", ".csv", ".tsv"]), zipped=st.booleans())
def test_fuzz_records_read_back_exactly_or_one_error_naming_the_file_and_line(
    tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, object]], kind: str, zipped: bool
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / ("d" + kind + (".gz" if zipped else ""))
    _write(path, _file_text(rows, kind))
    expected = [{f: _as_text(r[f], kind) for f in FIELDS} for r in rows]
    kept = [r for r in expected if all(r.values())]
    # TSV has no quoting: a tab, newline or CR inside a value moves the columns. Then the only
    # promise is a defined outcome (rows, or one error naming the file and line).
    exact = kind != ".tsv" or not any(
        c in _cell(v) for r in rows for v in r.values() for c in "\t\n\r"
    )
    if not kept and exact:
        message = _error(path)
        assert message.startswith(f"{path}:")
        return
    try:
        records = read_records(path, fields=FIELDS)
    except AiaynError as error:
        assert not exact, f"{error} for rows {rows!r}"
        assert str(error).startswith(f"{path}:") and "\n" not in str(error)
        return
    if exact:
        assert records.rows == kept
        assert records.skipped == len(rows) - len(kept)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300), name=st.sampled_from(["d.jsonl", "d.csv", "d.tsv"]))
def test_fuzz_any_bytes_are_records_or_one_error_naming_the_file(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, name: str
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    try:
        records = read_records(path, fields=FIELDS)
    except AiaynError as error:
        assert str(error).startswith(f"{path}:") and "\n" not in str(error)
        return
    assert records.rows and all(all(r.values()) for r in records.rows)
