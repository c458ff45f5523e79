"""SST-2 (GLUE): movie-review sentences labelled 0 (negative) or 1 (positive).

The files are TSV with the header `sentence<TAB>label`: train (67,349 sentences) and dev (872).
GLUE's test split has no labels, so "dev" doubles as the test set; "val" is accepted as its name.
"""

from __future__ import annotations

from pathlib import Path

from aiayn.data.download import data_path
from aiayn.data.files import read_lines
from aiayn.errors import AiaynError

SST2_SPLITS: dict[str, str] = {"train": "train.tsv", "dev": "dev.tsv", "val": "dev.tsv"}
_HEADER = "sentence\tlabel"


def read_sst2(path: str | Path) -> list[tuple[str, int]]:
    """(sentence, label) pairs of an SST-2 TSV file; a malformed line is an AiaynError naming it."""
    lines = read_lines(path)
    if not lines or lines[0] != _HEADER:
        found = lines[0] if lines else "an empty file"
        raise AiaynError(f"{path}:1: expected the header {_HEADER!r}, got {found!r}")
    examples: list[tuple[str, int]] = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 2 or fields[1] not in ("0", "1") or not fields[0].strip():
            raise AiaynError(
                f"{path}:{number}: expected 'sentence<TAB>label' with a non-empty sentence and "
                f"label 0 or 1, got {line!r}"
            )
        examples.append((fields[0].strip(), int(fields[1])))
    return examples


def sst2(split: str, data_dir: str | Path | None = None) -> list[tuple[str, int]]:
    """SST-2 split "train" or "dev" (alias "val") as (sentence, label) pairs."""
    if split not in SST2_SPLITS:
        raise ValueError(f"split must be one of {tuple(SST2_SPLITS)}, got {split!r}")
    return read_sst2(data_path("sst2", SST2_SPLITS[split], data_dir=data_dir))
