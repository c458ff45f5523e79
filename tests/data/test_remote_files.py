"""The table of public homes: every hash is that of the upstream file."""

from __future__ import annotations

import re
from pathlib import Path

from aiayn.data.download import sha256_of
from aiayn.data.remote_files import REMOTE_FILES


def test_every_entry_is_https_with_a_sha256() -> None:
    for key, remote in REMOTE_FILES.items():
        assert remote.url.startswith("https://"), key
        assert re.fullmatch(r"[0-9a-f]{64}", remote.sha256), key


# Data sets whose local copies are not stored under the upstream names: DialogSum's are gzipped
# under short names (tests/data/test_dialogsum.py checks them decompressed), CNN/DailyMail has none.
_NOT_LOCAL_AS_IS = {"dialogsum", "cnn_dailymail"}


def test_table_hashes_match_local_copies(shared_data_dir: Path) -> None:
    """The SHA-256 table is that of the upstream files, which the local copies are."""
    checked = set()
    for (dataset, filename), remote in REMOTE_FILES.items():
        if dataset in _NOT_LOCAL_AS_IS:
            continue
        assert sha256_of(shared_data_dir / dataset / filename) == remote.sha256, filename
        checked.add(dataset)
    assert checked == {"multi30k", "sst2", "tinyshakespeare"}
