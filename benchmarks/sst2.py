"""SST-2 benchmark: the three ways to train `aiayn train sst2`, timed, with their dev accuracy.

Targets (issue 6), on a 2-core CPU:
- fine-tuned MiniLM (HF backend): dev accuracy >= 91.0% within 30 minutes of training;
- ours (--init minilm, backend aiayn) within 0.5 points of the HF backend, same recipe;
- from scratch: dev accuracy >= 82%.

Each run is one `aiayn train` command in a subprocess; this script records the command, the wall
time, the training seconds, the dev accuracy / F1 and the throughput (training sentences per
second, from metrics.jsonl) in benchmarks/results/sst2.json (a list, appended to) and prints a
table. A run shorter than the full recipe is marked `partial`.

    python benchmarks/sst2.py --data-dir ../shared/data                # the full 30-minute runs
    python benchmarks/sst2.py --minutes 4 --steps 150 --warmup 15      # a short check
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "sst2.json"
MODES: dict[str, list[str]] = {
    "hf": ["--init", "minilm", "--backend", "hf"],
    "ours": ["--init", "minilm"],
    "scratch": [],
}
TARGETS = {"hf": 0.910, "scratch": 0.82}


def run_one(mode: str, args: argparse.Namespace, runs_dir: Path) -> dict:
    out = runs_dir / f"sst2-{mode}"
    command = ["aiayn", "train", "sst2", *MODES[mode], "--out", str(out), "--device", "cpu"]
    command += ["--max-minutes", str(args.minutes)]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    sets = []
    if args.steps:
        sets += [f"max_steps={args.steps}", f"eval_every={max(args.steps // 4, 1)}"]
        sets += [f"checkpoint_every={args.steps}", f"log_every={max(args.steps // 20, 1)}"]
    if args.warmup is not None:
        sets.append(f"warmup_steps={args.warmup}")
    for s in sets + args.set:
        command += ["--set", s]
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "aiayn", *command[1:]], capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        return {"mode": mode, "command": shlex.join(command), "error": proc.stderr.strip()[-500:]}
    summary = json.loads((out / "summary.json").read_text())
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rates = [r["targets_per_second"] for r in records if "targets_per_second" in r]
    curve = [(r["step"], round(r["val_accuracy"], 4)) for r in records if "val_accuracy" in r]
    return {
        "mode": mode,
        "command": shlex.join(command),
        "partial": summary["stopped"] != "max_steps" or bool(args.steps),
        "stopped": summary["stopped"],
        "steps": summary["steps"],
        "train_seconds": summary["seconds"],
        "wall_seconds": round(wall, 1),
        "sentences_per_second": round(statistics.median(rates), 1) if rates else None,
        "dev_accuracy": summary["dev_accuracy"],
        "dev_f1": summary["dev_f1"],
        "untrained_dev_accuracy": summary["untrained_dev_accuracy"],
        "dev_accuracy_by_step": curve,
        "load_average_at_end": os.getloadavg()[0],
        "cpus": os.cpu_count(),
        # OMP_NUM_THREADS=1 lets two runs share a 2-core machine, a core each
        "torch_threads": int(os.environ.get("OMP_NUM_THREADS", 0)) or os.cpu_count(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    p.add_argument("--minutes", type=float, default=30.0, help="training budget of each run")
    p.add_argument("--steps", type=int, help="max_steps (default: the task's recipe)")
    p.add_argument("--warmup", type=int, help="warmup_steps (default: the task's recipe)")
    p.add_argument("--set", action="append", default=[], help="more KEY=VALUE for every run")
    p.add_argument("--data-dir", help="folder holding sst2/train.tsv and sst2/dev.tsv")
    p.add_argument("--runs-dir", default="runs/bench", help="where the run directories go")
    args = p.parse_args()
    runs_dir = Path(args.runs_dir)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    results = []
    for mode in args.modes:
        result = {"date": stamp, **run_one(mode, args, runs_dir)}
        results.append(result)
        print(json.dumps(result), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    RESULTS.write_text(json.dumps(previous + results, indent=2) + "\n")
    print(f"\n{'mode':8} {'steps':>6} {'train s':>8} {'sent/s':>7} {'dev acc':>8} target")
    for r in results:
        if "error" in r:
            print(f"{r['mode']:8} error: {r['error']}")
            continue
        target = TARGETS.get(r["mode"])
        print(
            f"{r['mode']:8} {r['steps']:>6} {r['train_seconds']:>8.0f} "
            f"{r['sentences_per_second'] or 0:>7.1f} {r['dev_accuracy']:>8.2%} "
            + (f">= {target:.1%}" if target else "within 0.5 pt of hf")
            + (" (partial run)" if r["partial"] else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
