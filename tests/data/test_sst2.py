"""SST-2 TSV files: header and labels validated, errors name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiayn.data.sst2 import read_sst2, sst2
from aiayn.errors import AiaynError


def _tsv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "train.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_sentences_and_labels(tmp_path: Path) -> None:
    path = _tsv(tmp_path, "sentence\tlabel\na gem of a film \t1\ndull , dull , dull\t0\n")
    assert read_sst2(path) == [("a gem of a film", 1), ("dull , dull , dull", 0)]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("text\tlabel\nfine\t1\n", 1),  # wrong header
        ("", 1),  # empty file
        ("sentence\tlabel\nfine\t1\nbad\t2\n", 3),  # label out of range
        ("sentence\tlabel\nfine\t1\nno label\n", 3),  # missing tab
        ("sentence\tlabel\nfine\t1\nfine\t1\ttoo many\n", 3),  # extra field
        ("sentence\tlabel\n\t1\n", 2),  # empty sentence
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = _tsv(tmp_path, text)
    with pytest.raises(AiaynError, match=rf"train\.tsv:{line}:"):
        read_sst2(path)


def test_sst2_splits(shared_data_dir: Path) -> None:
    train = sst2("train", data_dir=shared_data_dir)
    dev = sst2("dev", data_dir=shared_data_dir)
    assert len(train) == 67_349 and len(dev) == 872
    assert sst2("val", data_dir=shared_data_dir) == dev
    assert {label for _, label in train} == {0, 1}
    with pytest.raises(ValueError, match="split"):
        sst2("test", data_dir=shared_data_dir)
