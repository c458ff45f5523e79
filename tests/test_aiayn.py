"""The package as a whole: its layers, its import graph, its file sizes, and the tests' layout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "aiayn"
TESTS = ROOT / "tests"
MAX_LINES = 400
# Test files about the package as a whole rather than one module.
PACKAGE_TESTS = {"test_aiayn"}


# import-linter run in a process of its own: in the test process, after other tests have
# imported rouge_score (and through it absl and nltk), an in-process run leaves pytest's output
# capture closed and the session dies with "lost sys.stderr".
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))"
)


def test_layers_only_point_down():
    """import-linter's contract in pyproject.toml: cli > app > tasks > training > ... > errors."""
    done = subprocess.run(
        [sys.executable, "-c", LINT, str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    report = done.stdout
    assert done.returncode == 0, (report + done.stderr)[-3000:]
    assert "KEPT" in report and "BROKEN" not in report


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every cycle a depth-first walk meets in the module import graph (imports inside
    functions included)."""
    adjacency = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    found: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        path.append(module)
        for imported in adjacency[module]:
            if state.get(imported) == 1:
                found.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, path)
        path.pop()
        state[module] = 2

    for module in sorted(adjacency):
        if module not in state:
            visit(module, [])
    return found


def test_the_import_graph_has_no_cycle():
    assert _cycles(grimp.build_graph("aiayn")) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_no_source_file_is_over_400_lines():
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def _modules() -> set[Path]:
    return {
        p.relative_to(SRC).with_suffix("")
        for p in SRC.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }


def test_tests_mirror_the_package_one_to_one():
    """src/aiayn/pkg/mod.py is tested in tests/pkg/test_mod.py (a private _mod.py in
    test_mod.py), and every test file names a module."""
    wanted = {m.parent / f"test_{m.name.lstrip('_')}" for m in _modules()}
    present = {p.relative_to(TESTS).with_suffix("") for p in TESTS.rglob("test_*.py")}
    present -= {Path(name) for name in PACKAGE_TESTS}
    assert sorted(map(str, wanted - present)) == [], "modules without a test file"
    assert sorted(map(str, present - wanted)) == [], "test files without a module"


@pytest.mark.parametrize("package", sorted({m.parts[0] for m in _modules() if len(m.parts) > 1}))
def test_each_package_has_a_docstring(package):
    init = SRC / package / "__init__.py"
    assert init.is_file() and init.read_text(encoding="utf-8").lstrip().startswith('"""')
