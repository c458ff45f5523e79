"""The package as a whole: its layers, its import graph, its file sizes, and the tests' layout."""

from __future__ import annotations

import ast
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
PACKAGE_TESTS = {"test_aiayn", "test_notebooks"}


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


# ------------------------------------------------------------------ loads that could run code
def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _dotted(node: ast.expr) -> str:
    """The dotted name an expression spells ("torch.load"), or "" if it is not one."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else ""
    return ""


def unsafe_loads(source: str) -> list[str]:
    """The calls in `source` that can run code from data: torch.load without weights_only=True,
    pickle's loads, eval/exec, yaml.load without a safe loader, numpy.load with allow_pickle.
    Names imported under another name (`import pickle as p`, `from torch import load`) are
    followed back to their module."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                aliases[a.asname or top] = a.name if a.asname else top
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        head, _, rest = name.partition(".")
        name = aliases.get(head, head) + (f".{rest}" if rest else "")
        name = name.replace("numpy.", "np.", 1) if name.startswith("numpy.") else name
        bad = (
            (name == "torch.load" and not _is_true(_keyword(node, "weights_only")))
            or name in {"pickle.load", "pickle.loads", "pickle.Unpickler", "dill.load"}
            or name in {"dill.loads", "marshal.loads", "yaml.unsafe_load", "yaml.full_load"}
            or (isinstance(node.func, ast.Name) and node.func.id in {"eval", "exec"})
            or (name == "builtins.eval" or name == "builtins.exec")
            or (
                name == "yaml.load"
                and "Safe" not in _dotted(_keyword(node, "Loader") or ast.Constant(None))
                and not (len(node.args) > 1 and "Safe" in _dotted(node.args[1]))
            )
            or (name == "np.load" and _is_true(_keyword(node, "allow_pickle")))
        )
        if bad:
            found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return found


@pytest.mark.parametrize(
    ("code", "flagged"),
    [
        ("import torch\ntorch.load(f)", True),
        ("import torch\ntorch.load(f, weights_only=False)", True),
        ("import torch\ntorch.load(f, weights_only=True, map_location='cpu')", False),
        ("from torch import load\nload(f)", True),
        ("import pickle\npickle.loads(b)", True),
        ("import pickle as p\np.load(f)", True),
        ("from pickle import loads as undo\nundo(b)", True),
        ("import pickle\nraise pickle.UnpicklingError('x')", False),
        ("eval('1 + 1')", True),
        ("exec(code)", True),
        ("model.eval()", False),
        ("import yaml\nyaml.load(s)", True),
        ("import yaml\nyaml.load(s, Loader=yaml.SafeLoader)", False),
        ("import yaml\nyaml.safe_load(s)", False),
        ("import numpy as np\nnp.load(f, allow_pickle=True)", True),
        ("import numpy\nnumpy.load(f, allow_pickle=True)", True),
        ("import numpy as np\nnp.load(f)", False),
    ],
)
def test_the_unsafe_load_finder(code, flagged):
    assert bool(unsafe_loads(code)) is flagged, unsafe_loads(code)


def test_no_source_file_loads_data_in_a_way_that_could_run_code():
    """Weights are safetensors, states load with weights_only=True, settings are JSON/TOML: no
    file a user is handed can run code when aiayn reads it."""
    found = {
        str(p.relative_to(SRC)): hits
        for p in sorted(SRC.rglob("*.py"))
        if (hits := unsafe_loads(p.read_text(encoding="utf-8")))
    }
    assert found == {}
