"""What the sections of benchmarks/peers.py (and the scripts that profile or time one piece) share:
the machine record, the matrix-multiply peak, interleaved timing, peak memory measured in a child
process, and writing a result as JSON and Markdown.

Peak memory is the resident set's high-water mark (VmHWM in /proc/self/status) of a child process
that trains one side alone. tracemalloc sees only Python's allocator, not torch's; torch's
profiler (profile_memory=True) sees torch's own allocations but not what the C allocator keeps,
what a library holds outside torch, or fragmentation, and it slows the steps it watches. The
high-water mark is what the operating system had to give the process, and a child per side keeps
one side's peak from hiding another's. The child also records its resident size after its imports
and before building its model, so that `peak - baseline` (the model, gradients, Adam's state and
activations) does not count that one side imported transformers and another did not.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

# CPU flags that decide matrix-multiply speed (all flags go into the JSON)
MATMUL_FLAGS = ("fma", "avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")


@dataclass(frozen=True)
class Context:
    """What every section is given: the run's settings and the matmul peaks measured at its start.

    `child_argv` starts a child process of peers.py; `peaks` maps "fp32" / "bf16" to FLOP/s.
    """

    quick: bool
    warmup: int
    reps: int
    threads: int
    peaks: dict[str, float]
    child_argv: list[str] = field(default_factory=list)
    beam_run: str = "runs/multi30k"  # the trained Multi30k run the beam section translates with


def _cpuinfo() -> dict[str, Any]:
    model, flags, cores = "unknown", [], set()
    physical = core = None
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "model name":
            model = value
        elif key == "flags" and not flags:
            flags = value.split()
        elif key == "physical id":
            physical = value
        elif key == "core id":
            core = value
            cores.add((physical, core))
    return {"model": model, "flags": flags, "physical_cores": len(cores) or None}


def machine() -> dict[str, Any]:
    """The CPU, its flags, the cores, torch's threads and versions."""
    cpu = _cpuinfo()
    try:
        import transformers

        transformers_version = transformers.__version__
    except ModuleNotFoundError:
        transformers_version = None
    return {
        "cpu_model": cpu["model"],
        "cpu_matmul_flags": [f for f in MATMUL_FLAGS if f in cpu["flags"]],
        "cpu_flags": cpu["flags"],
        "logical_cpus": os.cpu_count(),
        "physical_cores": cpu["physical_cores"],
        "cpus_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "transformers": transformers_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def matmul_peak(dtype: torch.dtype, *, n: int, reps: int) -> dict[str, Any]:
    """FLOP/s of an (n, n) @ (n, n) torch.mm in `dtype`: the fastest of `reps` after two warm-ups
    (a peak is the best the machine does, so the fastest, not the median)."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dtype)
    b = torch.randn(n, n, generator=g).to(dtype)
    out = torch.empty(n, n, dtype=dtype)
    for _ in range(2):
        torch.mm(a, b, out=out)
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        torch.mm(a, b, out=out)
        times.append(time.perf_counter() - started)
    return {"n": n, "seconds": times, "flops_per_second": 2 * n**3 / min(times)}


def interleaved(
    steps: dict[str, Callable[[], None]], *, warmup: int, reps: int
) -> dict[str, list[float]]:
    """Run the steps in turn (A, B, C, A, B, C ...); return each one's timed seconds.

    The first `warmup` rounds are not timed (allocator, kernels, Adam's state). Interleaving
    spreads a change in the machine's load over all sides instead of one.
    """
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_ in range(warmup + reps):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - started)
    return times


def rss_kib(field_name: str) -> int:
    """A field of /proc/self/status in KiB: "VmRSS" (now) or "VmHWM" (the high-water mark)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field_name}")


def run_children(
    child_argv: list[str], specs: list[dict[str, Any]], *, parallel: bool = False
) -> list[dict[str, Any]]:
    """Run `child_argv + [json(spec)]` for each spec; return the JSON objects their last stdout
    lines hold. `parallel` starts them all at once: fine for memory, which is per process, and
    it keeps a smoke run short; a real run measures one at a time, so that they cannot run the
    machine out of memory together."""
    env = os.environ.copy()
    results = []
    procs: list[tuple[dict[str, Any], subprocess.Popen]] = []
    for spec in specs:
        cmd = [*child_argv, json.dumps(spec)]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        procs.append((spec, proc))
        if not parallel:
            results.append(_finish(spec, proc))
    if parallel:
        results = [_finish(spec, proc) for spec, proc in procs]
    return results


def _finish(spec: dict[str, Any], proc: subprocess.Popen) -> dict[str, Any]:
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"memory child failed for {spec}:\n{stderr[-3000:]}")
    return json.loads(stdout.strip().splitlines()[-1])


def child_main(spec_json: str, children: dict[str, Callable[[dict[str, Any]], dict]]) -> int:
    """The child's side: run the section's child function, print its result as one JSON line."""
    spec = json.loads(spec_json)
    torch.set_num_threads(spec["threads"])
    result = children[spec["section"]](spec)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def write_result(out: Path, stem: str, record: dict[str, Any], lines: list[str]) -> None:
    """Write `record` to out/STEM.json and `lines` to out/STEM.md, and print the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / f"{stem}.md").write_text("\n".join(lines))
    print("\n".join(lines))
