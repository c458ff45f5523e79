"""Fixtures for the data tests: the local copies of the public data sets, when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The folder of local data copies: $AIAYN_DATA_DIR, else <repo root>/../shared/data."""
    env = os.environ.get("AIAYN_DATA_DIR")
    path = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"no local data copies at {path} (set AIAYN_DATA_DIR to a folder holding them)")
    return path
