"""Execute the walkthrough notebooks top to bottom with nbclient, reporting each one's wall time.

    python notebooks/run.py [--write] [--quick] [--timeout S] [NAMES]

Each notebook is built from its source (notebooks/sources/NN-name.py) and run in a fresh
temporary working directory (its runs are written there and thrown away). `--write` saves the
executed notebook, outputs included, as notebooks/NN-name.ipynb: the only way the committed
outputs change. `--quick` sets AIAYN_NOTEBOOK_QUICK=1, the smoke-test mode of the test suite
(fewer steps, less data); outputs written from a quick run would say so, so --write refuses it.
Data are found as the library finds them (set AIAYN_DATA_DIR to use a local copy).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build import HERE, build, resolve  # noqa: E402


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextlib.contextmanager
def _environment(**values: str | None) -> Iterator[None]:
    """Set (a str) or unset (None) environment variables for the kernels started inside."""
    before = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            _set(name, value)
        yield
    finally:
        for name, value in before.items():
            _set(name, value)


def execute(nb: nbformat.NotebookNode, *, timeout: int, quick: bool) -> float:
    """Run `nb` in place in a temporary directory; returns the wall time in seconds."""
    data_dir = os.environ.get("AIAYN_DATA_DIR")
    # The kernel runs in a temporary directory: a relative data folder is made absolute first.
    with (
        _environment(
            AIAYN_NOTEBOOK_QUICK="1" if quick else None,
            AIAYN_DATA_DIR=str(Path(data_dir).resolve()) if data_dir else None,
        ),
        tempfile.TemporaryDirectory(prefix="aiayn-notebook-") as cwd,
    ):
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": cwd}}
        )
        started = time.perf_counter()
        client.execute()
        return time.perf_counter() - started


def cell_seconds(nb: nbformat.NotebookNode) -> list[tuple[int, float, str]]:
    """(cell number, seconds, first line) of each executed code cell, from nbclient's timing."""
    out = []
    for number, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if cell.cell_type == "code" and start and end:
            seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
            out.append((number, seconds, cell.source.splitlines()[0] if cell.source else ""))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks (03, shakespeare, 03-shakespeare)")
    parser.add_argument("--write", action="store_true", help="save the outputs into the .ipynb")
    parser.add_argument("--quick", action="store_true", help="AIAYN_NOTEBOOK_QUICK=1")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--cells", action="store_true", help="also report each cell's time")
    args = parser.parse_args(argv)
    if args.write and args.quick:
        parser.error("--write saves the full run's outputs; drop --quick")
    failed = 0
    total = 0.0
    for name in resolve(args.names):
        nb = build(name)
        try:
            seconds = execute(nb, timeout=args.timeout, quick=args.quick)
        except CellExecutionError as error:
            failed += 1
            print(f"{name}: FAILED\n{error}", flush=True)
            continue
        total += seconds
        mode = "quick" if args.quick else "full"
        print(f"{name}: {seconds:.1f} s ({mode})", flush=True)
        if args.cells:
            for number, cell_time, first in cell_seconds(nb):
                print(f"    cell {number:2d}: {cell_time:6.1f} s  {first[:60]}", flush=True)
        if args.write:
            nbformat.write(nb, HERE / f"{name}.ipynb")
    print(f"total {total:.1f} s, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
