"""DialogSum: both file layouts, both file namings, and the real local copies."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from aiayn.data.dialogsum import DialogSumExample, dialogsum, dialogsum_files, read_dialogsum
from aiayn.data.remote_files import REMOTE_FILES
from aiayn.errors import DataNotFoundError

DIALOGUE = "#Person1#: Hello, Ms. Lee.\n#Person2#: Hi! Is the report ready?\n#Person1#: Yes."
TRAIN_LINES = [
    {
        "fname": "train_0",
        "dialogue": DIALOGUE,
        "summary": "#Person1# has the report.",
        "topic": "work",
    },
    {"fname": "train_1", "dialogue": "#Person1#: Hi.", "summary": " ", "topic": "greeting"},
]
TEST_LINE = {
    "fname": "test_0",
    "dialogue": DIALOGUE,
    "summary1": "One.",
    "topic1": "a",
    "summary2": "Two.",
    "topic2": "b",
    "summary3": "Three.",
    "topic3": "c",
}


def _jsonl(lines: list[dict[str, str]]) -> bytes:
    return "".join(json.dumps(x) + "\n" for x in lines).encode("utf-8")


@pytest.fixture
def no_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AIAYN_DATA_DIR and an empty cache: only the data_dir argument can supply files."""
    monkeypatch.delenv("AIAYN_DATA_DIR", raising=False)
    monkeypatch.setenv("AIAYN_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "data" / "dialogsum").mkdir(parents=True)
    return tmp_path / "data"


def test_short_gzipped_name_and_train_layout(no_env: Path) -> None:
    (no_env / "dialogsum" / "train.jsonl.gz").write_bytes(gzip.compress(_jsonl(TRAIN_LINES)))
    examples = dialogsum("train", data_dir=no_env)
    # train_1 has an empty summary: skipped, not kept with an empty reference
    assert examples == [
        DialogSumExample(
            fname="train_0",
            dialogue=DIALOGUE,
            summaries=["#Person1# has the report."],
            topic="work",
        )
    ]


def test_upstream_name_wins_over_short_name(no_env: Path) -> None:
    (no_env / "dialogsum" / "dev.jsonl.gz").write_bytes(gzip.compress(_jsonl(TRAIN_LINES)))
    other = [dict(TRAIN_LINES[0], fname="dev_upstream")]
    (no_env / "dialogsum" / "dialogsum.dev.jsonl").write_bytes(_jsonl(other))
    assert [e.fname for e in dialogsum("val", data_dir=no_env)] == ["dev_upstream"]


def test_test_layout_has_three_summaries(no_env: Path) -> None:
    (no_env / "dialogsum" / "dialogsum.test.jsonl").write_bytes(_jsonl([TEST_LINE]))
    (example,) = dialogsum("test", data_dir=no_env)
    assert example.summaries == ["One.", "Two.", "Three."]
    assert example.topic == "a" and example.fname == "test_0"


def test_missing_test_split_says_where_to_get_it(no_env: Path) -> None:
    with pytest.raises(DataNotFoundError) as info:
        dialogsum("test", data_dir=no_env)
    message = str(info.value)
    assert "\n" not in message
    assert "dialogsum.test.jsonl" in message and "github.com/cylnlp/dialogsum" in message
    assert "AIAYN_DATA_DIR" in message


def test_read_dialogsum_detects_the_layout(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_bytes(_jsonl([TEST_LINE]))
    assert len(read_dialogsum(path)[0].summaries) == 3
    path.write_bytes(_jsonl(TRAIN_LINES[:1]))
    assert len(read_dialogsum(path)[0].summaries) == 1


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        dialogsum("validation")


def test_downloads_use_the_upstream_names() -> None:
    for stem in ("train", "dev"):
        assert ("dialogsum", dialogsum_files(stem)[0]) in REMOTE_FILES


def test_local_copies(shared_data_dir: Path) -> None:
    train = dialogsum("train", data_dir=shared_data_dir)
    dev = dialogsum("dev", data_dir=shared_data_dir)
    assert (len(train), len(dev)) == (12460, 500)
    assert all(len(e.summaries) == 1 and e.dialogue.startswith("#Person1#:") for e in dev)
    assert not {e.fname for e in train} & {e.fname for e in dev}


def test_table_hashes_are_those_of_the_decompressed_local_copies(shared_data_dir: Path) -> None:
    for stem in ("train", "dev"):
        data = gzip.decompress((shared_data_dir / "dialogsum" / f"{stem}.jsonl.gz").read_bytes())
        remote = REMOTE_FILES[("dialogsum", f"dialogsum.{stem}.jsonl")]
        assert hashlib.sha256(data).hexdigest() == remote.sha256, stem
