"""The walkthrough notebooks (notebooks/): built from their sources, committed with their outputs,
and each runs top to bottom without an error (in the quick mode, AIAYN_NOTEBOOK_QUICK=1); and
docs/walkthrough.md points at files, tests and notebook sections that exist."""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
DATA_DIR = Path(os.environ.get("AIAYN_DATA_DIR") or REPO.parent / "shared" / "data")
sys.path.insert(0, str(NOTEBOOKS))
import build  # noqa: E402  (notebooks/build.py)
import run  # noqa: E402  (notebooks/run.py)

NAMES = build.names()
# The notebooks that read a data set that is not package data, and the file they need.
NEEDS_DATA = {
    "04-translation": DATA_DIR / "multi30k" / "train.de.gz",
    "05-fine-tuning": DATA_DIR / "sst2" / "train.tsv",
}


def test_there_are_six_notebooks():
    assert [n[:2] for n in NAMES] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_is_its_source_built(name):
    """Edit notebooks/sources/NAME.py, then `python notebooks/run.py --write NAME`."""
    committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert build.same_sources(committed, build.build(name))


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_is_committed_with_its_full_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "not every cell was executed"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "quick=False" in text or name.startswith("01"), "outputs of a quick run"
    if name[:2] in ("01", "03", "06"):  # the notebooks that plot inline
        assert any("image/png" in o.get("data", {}) for o in outputs)


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_opens_in_colab_and_installs_what_is_missing(name):
    nb = build.build(name)
    url = f"https://colab.research.google.com/github/aiayn/aiayn/blob/main/notebooks/{name}.ipynb"
    assert url in nb.cells[0].source
    install = next(c for c in nb.cells if c.cell_type == "code").source
    assert "except ImportError" in install and "git+https://github.com/aiayn/aiayn" in install


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_runs_top_to_bottom(name, monkeypatch):
    """Each notebook in quick mode, in a fresh kernel and working directory."""
    if name in NEEDS_DATA and not NEEDS_DATA[name].is_file():
        pytest.skip(f"no local copy of {NEEDS_DATA[name]} (set AIAYN_DATA_DIR)")
    monkeypatch.setenv("AIAYN_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    nb = build.build(name)
    run.execute(nb, timeout=300, quick=True)  # raises CellExecutionError naming the cell
    printed = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "quick=True" in printed or name.startswith("01")


# ------------------------------------------------------------------------ docs/walkthrough.md
WALKTHROUGH = REPO / "docs" / "walkthrough.md"


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}


def _headings(name: str) -> set[str]:
    nb = build.build(name)
    return {
        line.lstrip("#").strip()
        for c in nb.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("#")
    }


def test_the_walkthrough_points_at_files_tests_and_sections_that_exist():
    text = WALKTHROUGH.read_text(encoding="utf-8")
    files = set(re.findall(r"`(src/aiayn/[\w/]+\.py)`", text))
    tests = set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text))
    sections = set(
        re.findall(r"\[(\d\d-[\w-]+)\]\([^)]*\) § ([^|<\n]+?)\s*(?=\||<br>|$)", text, re.M)
    )
    assert len(files) >= 12 and len(tests) >= 15 and len(sections) >= 12
    assert sorted(f for f in files if not (REPO / f).is_file()) == []
    missing = [f"{f}::{t}" for f, t in tests if t not in _test_names(REPO / f)]
    assert missing == []
    wrong = [f"{n} § {h}" for n, h in sections if h not in _headings(n)]
    assert wrong == []
