"""CPU training speed under each memory allocator: glibc's malloc (as it is, and with aiayn's
tuning), tcmalloc and jemalloc, on the DialogSum recipe.

    python benchmarks/allocator.py --data-dir DIR [--steps 300] [--eval-every 100]

Each allocator trains `aiayn train dialogsum` from the same seed (so the same batches, in the same
order) for `--steps` steps, evaluating every `--eval-every` (what a real run does between its
steps), in a fresh process, one after the other. The process is stopped once the last step is
logged (the final full-dev beam evaluation is not what is measured). Per window of 25 steps the
seconds per step come from metrics.jsonl; the peak resident size from the kernel (wait4).
Writes benchmarks/results/allocator.{json,md}.
"""

from __future__ import annotations

import argparse
import ctypes.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def sides() -> dict[str, dict[str, str]]:
    """name -> the environment changes that select it (the libraries found on this machine)."""
    out = {
        "glibc": {"AIAYN_ALLOCATOR": "system", "AIAYN_MALLOC_TUNING": "0"},
        "glibc, tuned (aiayn's mallopt)": {"AIAYN_ALLOCATOR": "system"},
    }
    for name, lib in (("tcmalloc", "tcmalloc_minimal"), ("jemalloc", "jemalloc")):
        found = ctypes.util.find_library(lib)
        if found:
            out[name] = {"AIAYN_ALLOCATOR": found}
    return out


def train(env_changes: dict[str, str], args: argparse.Namespace, work: Path) -> dict:
    out = work / "run"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "aiayn", "train", "dialogsum", "--out", str(out)]
    cmd += ["--data-dir", args.data_dir] if args.data_dir else []
    cmd += [
        "--set",
        f"eval_every={args.eval_every}",
        "--set",
        f"checkpoint_every={args.eval_every}",
    ]
    cmd += ["--set", f"max_steps={args.steps + 1}"]
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "AIAYN_ALLOCATOR_LOADED")}
    env.update(env_changes)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = out / "metrics.jsonl"
    records: list[dict] = []
    while proc.poll() is None:
        time.sleep(2)
        if metrics.is_file():
            lines = metrics.read_text().splitlines()
            records = [json.loads(line) for line in lines if line.endswith("}")]
            if any(r.get("step", 0) >= args.steps and "train_loss" in r for r in records):
                proc.send_signal(signal.SIGTERM)
                break
    _, _, usage = os.wait4(proc.pid, 0)
    return {"command": " ".join(cmd[2:]), "environment": env_changes, "records": records,
            "peak_rss_mib": usage.ru_maxrss / 1024, **windows_of(records)}  # fmt: skip


def windows_of(records: list[dict]) -> dict:
    """Seconds per step in each logged window of steps, and their medians. An evaluation (and
    the checkpoint after it) at step s runs after step s is logged, so its time falls in the
    window that starts at s: such windows are marked and left out of the medians."""
    train_records = [r for r in records if "train_loss" in r]
    evaluated_at = {r["step"] for r in records if "val_loss" in r}
    windows = [
        {
            "to_step": b["step"],
            "seconds_per_step": (b["seconds"] - a["seconds"]) / (b["step"] - a["step"]),
            "has_evaluation": any(a["step"] <= s < b["step"] for s in evaluated_at),
        }
        for a, b in zip(train_records, train_records[1:], strict=False)
    ]
    pure = [w["seconds_per_step"] for w in windows if not w["has_evaluation"]]
    return {
        "windows": windows,
        "median_seconds_per_step": statistics.median(pure),
        "median_seconds_per_step_last_4_windows": statistics.median(pure[-4:]),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", help="folder holding dialogsum/ (else AIAYN_DATA_DIR or cache)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--eval-every", type=int, default=100)
    args = p.parse_args()
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, env_changes in sides().items():
            results[name] = train(env_changes, args, Path(tmp))
            print(name, results[name]["median_seconds_per_step"], flush=True)
    record = {
        "command": "python benchmarks/allocator.py " + " ".join(sys.argv[1:]),
        "cpu_cores": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "sides": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "allocator.json").write_text(json.dumps(record, indent=1) + "\n")
    (RESULTS / "allocator.md").write_text(render(record, args.steps, args.eval_every))
    print(render(record, args.steps, args.eval_every))


def render(record: dict, steps: int, eval_every: int) -> str:
    """The Markdown page of a record."""
    results = record["sides"]
    load_before = record["load_average_before"]
    base = results["glibc"]["median_seconds_per_step"]
    lines = [
        "# CPU training under each memory allocator",
        "",
        f"`{record['command']}`",
        "",
        f"`aiayn train dialogsum` (bf16 autocast, the `small` model, 6,000-token batches), "
        f"{steps} steps from the same seed, evaluating every {eval_every}; "
        f"{os.cpu_count()} cores, load average {load_before[0]:.2f} before and "
        f"{record['load_average_after'][0]:.2f} after, one process at a time. Seconds per step: "
        "the median over the 25-step windows without an evaluation in them, and over the last "
        "four such windows (after several evaluations).",
        "",
        "| allocator | s/step | s/step, last windows | vs glibc | peak resident size |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['median_seconds_per_step']:.3f} | "
            f"{r['median_seconds_per_step_last_4_windows']:.3f} | "
            f"**{base / r['median_seconds_per_step']:.2f}x** | {r['peak_rss_mib']:,.0f} MiB |"
        )
    lines += [
        "",
        "Per window (seconds per step; * = the window holds an evaluation and a checkpoint):",
        "",
        "| to step | " + " | ".join(results) + " |",
        "|---|" + "---|" * len(results),
    ]
    ends = [w["to_step"] for w in next(iter(results.values()))["windows"]]
    for i, step in enumerate(ends):
        cells = []
        for r in results.values():
            w = r["windows"][i] if i < len(r["windows"]) else None
            cells.append(
                ""
                if w is None
                else f"{w['seconds_per_step']:.3f}{'*' if w['has_evaluation'] else ''}"
            )
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
