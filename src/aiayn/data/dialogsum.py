"""DialogSum (Chen et al., Findings of ACL 2021): everyday spoken dialogues and their summaries.

Train has 12,460 dialogues, dev 500, test 500; CC BY-NC-SA 4.0. The public home is
github.com/cylnlp/dialogsum, folder `DialogSum_Data/`: `dialogsum.{train,dev,test}.jsonl`, one
JSON object a line. A dialogue is one turn per line, each `#PersonN#: text`. Train and dev lines
hold `fname`, `dialogue`, `summary` and `topic`; the test set has three annotators' summaries and
topics, `summary1..3` and `topic1..3`.

Local copies may use the upstream names or short gzipped ones (`train.jsonl.gz`, `dev.jsonl.gz`,
`test.jsonl.gz`). Train and dev download from the public home when no copy is found; the test file
must be a local copy (aiayn has no checksum for it), see `dialogsum`.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from aiayn.data.download import data_path, find_local
from aiayn.data.records import read_records
from aiayn.errors import DataNotFoundError

DIALOGSUM_SPLITS: dict[str, str] = {"train": "train", "dev": "dev", "val": "dev", "test": "test"}
_TEST_URL = "https://github.com/cylnlp/dialogsum/tree/main/DialogSum_Data"


@dataclass(frozen=True)
class DialogSumExample:
    """One dialogue: `summaries` has one reference (train, dev) or three (test); `topic` is the
    first annotator's topic."""

    fname: str
    dialogue: str
    summaries: list[str]
    topic: str


def dialogsum_files(stem: str) -> tuple[str, ...]:
    """The names a local copy of split file `stem` ("train", "dev", "test") may have: the
    upstream name first, then the short gzipped one and the other two spellings."""
    return (
        f"dialogsum.{stem}.jsonl",
        f"{stem}.jsonl.gz",
        f"dialogsum.{stem}.jsonl.gz",
        f"{stem}.jsonl",
    )


def read_dialogsum(path: str | Path) -> list[DialogSumExample]:
    """The examples of a DialogSum JSON-lines file (plain or .gz), in file order.

    A file whose first record has `summary1` is read in the test layout (three summaries),
    otherwise in the train/dev layout. Records with an empty field are skipped (and logged).
    """
    if "summary1" in _first_record(path):
        fields = ("fname", "dialogue", "summary1", "summary2", "summary3", "topic1")
        rows = read_records(path, fields=fields).rows
        return [
            DialogSumExample(
                fname=r["fname"],
                dialogue=r["dialogue"],
                summaries=[r["summary1"], r["summary2"], r["summary3"]],
                topic=r["topic1"],
            )
            for r in rows
        ]
    rows = read_records(path, fields=("fname", "dialogue", "summary", "topic")).rows
    return [
        DialogSumExample(
            fname=r["fname"], dialogue=r["dialogue"], summaries=[r["summary"]], topic=r["topic"]
        )
        for r in rows
    ]


def dialogsum(split: str, data_dir: str | Path | None = None) -> list[DialogSumExample]:
    """DialogSum split "train", "dev" (alias "val") or "test" (see `data_path` for where the files
    are looked for). The test split is never downloaded: put `dialogsum.test.jsonl` from the public
    home into `<data dir>/dialogsum/`."""
    if split not in DIALOGSUM_SPLITS:
        raise ValueError(f"split must be one of {tuple(DIALOGSUM_SPLITS)}, got {split!r}")
    names = dialogsum_files(DIALOGSUM_SPLITS[split])
    path = find_local("dialogsum", names, data_dir=data_dir)
    if path is None:
        try:
            path = data_path("dialogsum", names[0], data_dir=data_dir)
        except DataNotFoundError as error:
            if split != "test":
                raise
            raise DataNotFoundError(
                f"{error}; the DialogSum test set is not downloaded automatically: get "
                f"{names[0]} from {_TEST_URL}"
            ) from None
    return read_dialogsum(path)


def _first_record(path: str | Path) -> dict[str, object]:
    """The first record of a JSON-lines file, or {} if it cannot be read (read_records, which
    reads the whole file next, reports what is wrong with it)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.strip():
                    record = json.loads(line)
                    return record if isinstance(record, dict) else {}
    except (OSError, EOFError, ValueError):
        pass
    return {}
