"""Quick runs of the ablations, written to a temporary folder."""

from __future__ import annotations

import json

import pytest

from aiayn.app.ablate import run_ablation


@pytest.fixture
def quick(tmp_path):
    """Run an ablation with --quick on the CPU; return (its results.json as a dict, its folder)."""

    def run(name: str) -> tuple[dict, object]:
        result = run_ablation(name, quick=True, out=tmp_path, device="cpu")
        assert all(f.is_file() for f in result.files)
        assert result.report.figures and all(
            (tmp_path / f).is_file() for f in result.report.figures
        )
        record = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
        assert record["quick"] is True and record["seeds"] == 1 and record["findings"]
        assert "--quick" in record["command"]
        return record, tmp_path

    return run
