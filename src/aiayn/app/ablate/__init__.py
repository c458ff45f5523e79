"""Ablations: the paper's design choices taken away one at a time, each measured on a CPU.

`aiayn ablate NAME` runs one experiment and writes its figure (PNG) and its tables (results.json
and results.md, with the command, the commit and the machine) to docs/ablations/NAME/. `--quick`
runs a seconds-long version (for tests); `--seeds N` repeats what noise could explain.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiayn.errors import AiaynError

if TYPE_CHECKING:
    from aiayn.app.ablate._common import Report

# name -> (module of aiayn.app.ablate, function): the modules are imported only when run.
EXPERIMENTS: dict[str, tuple[str, str]] = {
    "rnn-vs-transformer": ("rnn", "run"),
    "attention-scoring": ("scoring", "run"),
    "shared-layers": ("sharing", "run"),
    "no-residual": ("residual", "run"),
    "no-positional-encoding": ("positions", "run_no_positions"),
    "no-causal-mask": ("masking", "run"),
    "positions-extrapolate": ("positions", "run_extrapolate"),
}
NAMES: tuple[str, ...] = tuple(EXPERIMENTS)


@dataclass
class AblationResult:
    """What a run wrote: the report, its files, and how long it took."""

    report: Report
    files: list[Path]
    seconds: float


def run_ablation(
    name: str,
    *,
    seeds: int | None = None,
    quick: bool = False,
    out: Path | None = None,
    device: str = "auto",
    command: str = "",
) -> AblationResult:
    """Run the experiment `name` (one of NAMES) and write its figure and tables to `out`
    (default docs/ablations/NAME). Seeds default to 3, or 1 with `quick`."""
    if name not in EXPERIMENTS:
        raise AiaynError(f"unknown ablation {name!r}; known ablations: {', '.join(NAMES)}")
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise AiaynError(f"--seeds must be an integer >= 1, got {seeds!r}")
    from aiayn.app.ablate._common import Settings, write_report
    from aiayn.training.device import resolve_device

    settings = Settings(
        quick=quick,
        seeds=seeds if seeds is not None else (1 if quick else 3),
        device=resolve_device(device),
    )
    out = Path(out) if out is not None else Path("docs") / "ablations" / name
    module_name, function = EXPERIMENTS[name]
    module = importlib.import_module(f"aiayn.app.ablate.{module_name}")
    start = time.perf_counter()
    report = getattr(module, function)(settings, out)
    seconds = time.perf_counter() - start
    command = command or f"aiayn ablate {name}" + (" --quick" if quick else "")
    files = write_report(report, out, command=command, settings=settings, seconds=seconds)
    return AblationResult(report, [*(out / f for f in report.figures), *files], seconds)


__all__ = ["EXPERIMENTS", "NAMES", "AblationResult", "run_ablation"]
