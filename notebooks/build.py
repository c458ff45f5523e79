"""Build the walkthrough notebooks (NN-name.ipynb) from their sources (sources/NN-name.py).

A source is a Python file in the "percent" format: `# %%` starts a code cell and
`# %% [markdown]` a markdown cell whose lines are comments (`# text`). Anything before the first
`# %%` (lint settings, a note) is not part of the notebook. The notebooks are products: edit the
source, then `python notebooks/run.py --write NAME` rebuilds, executes and saves the notebook.

    python notebooks/build.py [NAMES]   # rebuild without executing (outputs are dropped)
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
COLAB = "https://colab.research.google.com/github/aiayn/aiayn/blob/main/notebooks/{name}.ipynb"
BADGE = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({COLAB})"


def names() -> list[str]:
    """The notebooks' names (NN-name), in order."""
    return sorted(p.stem for p in SOURCES.glob("[0-9][0-9]-*.py"))


def resolve(requested: list[str]) -> list[str]:
    """Names given in full ("03-shakespeare"), by number ("03") or by a part ("shakespeare")."""
    known = names()
    if not requested:
        return known
    out = []
    for want in requested:
        want = Path(want).stem
        match = [n for n in known if n == want or n.startswith(want + "-") or want in n]
        if len(match) != 1:
            raise SystemExit(f"notebook {want!r} matches {match or 'nothing'}; known: {known}")
        out.append(match[0])
    return out


def _cells(text: str) -> list[tuple[str, str]]:
    """(kind, source) of each cell of a percent-format file."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            cells.append(("markdown" if "[markdown]" in line else "code", []))
        elif cells:
            cells[-1][1].append(line)
    out = []
    for kind, lines in cells:
        if kind == "markdown":
            lines = [ln[2:] if ln.startswith("# ") else ln.removeprefix("#") for ln in lines]
        source = "\n".join(lines).strip("\n")
        if source:
            out.append((kind, source))
    return out


def build(name: str) -> NotebookNode:
    """The notebook of source `name`, without outputs; `{colab_badge}` becomes the badge."""
    text = (SOURCES / f"{name}.py").read_text(encoding="utf-8")
    nb = nbformat.v4.new_notebook()
    for i, (kind, source) in enumerate(_cells(text)):
        source = source.replace("{colab_badge}", BADGE.format(name=name))
        cell = (
            nbformat.v4.new_markdown_cell(source)
            if kind == "markdown"
            else nbformat.v4.new_code_cell(source)
        )
        cell["id"] = f"{name[:2]}-{i:02d}"  # stable ids: a rebuild changes no line it need not
        nb.cells.append(cell)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    return nb


def same_sources(a: NotebookNode, b: NotebookNode) -> bool:
    """Whether two notebooks have the same cells (kind and source), outputs aside."""
    return [(c.cell_type, c.source) for c in a.cells] == [(c.cell_type, c.source) for c in b.cells]


def main(argv: list[str]) -> int:
    for name in resolve(argv):
        nbformat.write(build(name), HERE / f"{name}.ipynb")
        print(f"wrote notebooks/{name}.ipynb (no outputs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
