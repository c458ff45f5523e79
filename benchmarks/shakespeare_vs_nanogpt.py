"""Char-level tiny Shakespeare on CPU: aiayn against nanoGPT, side by side, in one run.

Both train the same model size (4 layers, 4 heads, d_model 128, context 64, 0.80M parameters) on
the same number of training tokens (2000 steps x 12 sequences x 64 characters, unless a config
changes the batch shape but keeps the product), and the wall-clock of each whole command is
timed: start-up, data, evaluations and checkpoints included. Beside it, the training step alone:
nanoGPT's median `time` per iteration as it prints it, and aiayn's median over its logged
intervals (seconds per step between two log lines).

    python benchmarks/shakespeare_vs_nanogpt.py --data-dir /work/shared/data \
        [--nanogpt-dir DIR] [--runs 5] [--threads N] [--config benchmarks/configs/nanogpt_cpu.json]

The machine is noisy, so the pair runs `--runs` times (five by default), the order swapped each
time (aiayn first, then nanoGPT first, ...; `--nanogpt-first` starts with nanoGPT), and the
median and range of the speed-ups are reported.

aiayn runs `aiayn train tinyshakespeare-char --config CONFIG`. With `--nanogpt-dir` (a checkout of
karpathy/nanoGPT; never commit it), nanoGPT's own train.py runs with its documented CPU command.
Its data/shakespeare_char/prepare.py downloads the text, so this script writes the same
train.bin / val.bin / meta.pkl from the local input.txt instead (characters sorted, first 90%
train, uint16). Results go to benchmarks/results/shakespeare_vs_nanogpt.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from peers_common import machine

ROOT = Path(__file__).resolve().parents[1]
NANOGPT_ARGS = [
    "config/train_shakespeare_char.py",
    "--device=cpu",
    "--compile=False",
    "--eval_iters=20",
    "--log_interval=1",
    "--block_size=64",
    "--batch_size=12",
    "--n_layer=4",
    "--n_head=4",
    "--n_embd=128",
    "--max_iters=2000",
    "--lr_decay_iters=2000",
    "--dropout=0.0",
]


def write_nanogpt_data(input_txt: Path, nanogpt_dir: Path) -> Path:
    """What nanoGPT's data/shakespeare_char/prepare.py writes, from a local input.txt."""
    text = input_txt.read_text(encoding="utf-8")
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    n = len(text)
    out = nanogpt_dir / "data" / "shakespeare_char"
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", text[: int(n * 0.9)]), ("val", text[int(n * 0.9) :])):
        np.array([stoi[c] for c in part], dtype=np.uint16).tofile(out / f"{name}.bin")
    meta = {"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}
    with open(out / "meta.pkl", "wb") as f:
        pickle.dump(meta, f)
    return out


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> tuple[float, str]:
    """Run `cmd`, return (wall-clock seconds, combined output); raise if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    log.write_text(output, encoding="utf-8")
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{output[-3000:]}")
    return seconds, output


def run_aiayn(config: Path, data_dir: Path, env: dict[str, str], work: Path) -> dict:
    out = work / "aiayn-run"
    cmd = [sys.executable, "-m", "aiayn", "train", "tinyshakespeare-char"]
    cmd += ["--config", str(config), "--out", str(out), "--device", "cpu"]
    cmd += ["--data-dir", str(data_dir)]
    shutil.rmtree(out, ignore_errors=True)  # a fresh run each time, never a resumed one
    seconds, _ = _run(cmd, cwd=ROOT, env=env, log=work / "aiayn.log")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    train = json.loads((out / "config.json").read_text(encoding="utf-8"))["train"]
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text("utf-8").splitlines()]
    logged = [row for row in logged if "train_loss" in row]  # the training log lines
    per_step = [
        (b["seconds"] - a["seconds"]) / (b["step"] - a["step"])
        for a, b in zip(logged, logged[1:], strict=False)
        if b["step"] > a["step"]
    ]
    return {
        "command": " ".join(["aiayn", *cmd[3:]]),
        "wall_seconds": round(seconds, 1),
        "train_seconds": summary["seconds"],
        "step_ms": round(1000 * statistics.median(per_step), 2),
        "val_loss": round(summary["val_loss"], 4),
        "val_loss_measured_on": f"the whole validation split ({summary['val_tokens']} tokens)",
        "steps": summary["steps"],
        "training_tokens": summary["steps"] * train["batch_size"] * summary["context"],
        "parameters": summary["parameters"],
    }


def run_nanogpt(nanogpt_dir: Path, input_txt: Path, env: dict[str, str], work: Path) -> dict:
    write_nanogpt_data(input_txt, nanogpt_dir)
    out_dir = work / "nanogpt-out"
    cmd = [sys.executable, "train.py", *NANOGPT_ARGS, f"--out_dir={out_dir}"]
    seconds, output = _run(cmd, cwd=nanogpt_dir, env=env, log=work / "nanogpt.log")
    evals = re.findall(r"step (\d+): train loss ([\d.]+), val loss ([\d.]+)", output)
    step, _, val = evals[-1]
    iter_ms = [float(t) for t in re.findall(r"iter \d+: loss [\d.]+, time ([\d.]+)ms", output)]
    return {
        "command": "python train.py " + " ".join(NANOGPT_ARGS),
        "wall_seconds": round(seconds, 1),
        "step_ms": round(statistics.median(iter_ms), 2),
        "val_loss": float(val),
        "val_loss_measured_on": "20 random batches of 12 x 64 (eval_iters=20)",
        "steps": int(step),
        "training_tokens": int(step) * 12 * 64,
        "parameters": "0.80M (its count excludes position embeddings)",
    }


def _spread(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "each": [round(v, 2) for v in values],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("AIAYN_DATA_DIR", "/work/shared/data"))
    p.add_argument("--nanogpt-dir", type=Path, help="a checkout of karpathy/nanoGPT")
    p.add_argument("--config", type=Path, default=ROOT / "benchmarks/configs/nanogpt_cpu.json")
    p.add_argument("--runs", type=int, default=5, help="times to run the pair (default 5)")
    p.add_argument("--threads", type=int, help="OMP_NUM_THREADS for both (default: torch's)")
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks/results")
    p.add_argument("--nanogpt-first", action="store_true", help="run nanoGPT first in run 1")
    p.add_argument("--tag", default="", help="suffix of the result files (keeps earlier ones)")
    args = p.parse_args()
    if args.runs < 1:
        raise SystemExit("--runs must be at least 1")

    data_dir = Path(args.data_dir)
    input_txt = data_dir / "tinyshakespeare" / "input.txt"
    if not input_txt.is_file():
        raise SystemExit(f"{input_txt} not found: pass --data-dir with tinyshakespeare/input.txt")
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    work = Path(tempfile.mkdtemp(prefix="aiayn-vs-nanogpt-"))
    jobs = {"aiayn": lambda: run_aiayn(args.config, data_dir, env, work)}
    if args.nanogpt_dir is not None:
        nanogpt_dir = args.nanogpt_dir.resolve()
        jobs["nanogpt"] = lambda: run_nanogpt(nanogpt_dir, input_txt, env, work)
    results: dict = {
        "benchmark": "char-level tiny Shakespeare, CPU, aiayn vs nanoGPT",
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": machine()["cpu_model"],
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "unset"),
            "load_average_at_start": _load(),
        },
        "aiayn_config": json.loads(args.config.read_text(encoding="utf-8")),
        "runs": [],
    }
    for i in range(args.runs):
        order = list(jobs)  # aiayn, nanogpt
        if (i % 2 == 1) != args.nanogpt_first:
            order.reverse()
        run: dict = {"order": order, "load_average_at_start": _load()}
        for name in order:
            print(f"run {i + 1}/{args.runs}: {name} ...", flush=True)
            run[name] = jobs[name]()
            print(json.dumps(run[name], indent=2), flush=True)
        if "nanogpt" in run:
            run["speedup_wall"] = round(
                run["nanogpt"]["wall_seconds"] / run["aiayn"]["wall_seconds"], 2
            )
            run["speedup_step"] = round(run["nanogpt"]["step_ms"] / run["aiayn"]["step_ms"], 2)
        results["runs"].append(run)
    if "nanogpt" in jobs:
        for key in ("speedup_wall", "speedup_step"):
            results[key] = _spread([r[key] for r in results["runs"]])
    results["machine"]["load_average_at_end"] = _load()
    args.results.mkdir(parents=True, exist_ok=True)
    stem = "shakespeare_vs_nanogpt" + (f"-{args.tag}" if args.tag else "")
    (args.results / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    (args.results / f"{stem}.md").write_text(_markdown(results), encoding="utf-8")
    shutil.rmtree(work / "aiayn-run", ignore_errors=True)
    print(f"logs of the last run in {work}; results in {args.results}")
    return 0


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# aiayn vs nanoGPT: char-level tiny Shakespeare on CPU",
        "",
        f"Command: `{r['command']}`",
        "",
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, torch {m['torch']}, "
        f"OMP_NUM_THREADS={m['OMP_NUM_THREADS']}; load average (1, 5, 15 min) "
        f"{m['load_average_at_start']} at the start, {m['load_average_at_end']} at "
        "the end. The runs follow one another; the order of the pair swaps each run.",
        "",
    ]
    if "speedup_wall" in r:
        w, s = r["speedup_wall"], r["speedup_step"]
        lines += [
            f"**aiayn / nanoGPT, whole command: median {w['median']}x over {len(r['runs'])} "
            f"runs (range {w['min']}x to {w['max']}x); training step alone: median "
            f"{s['median']}x ({s['min']}x to {s['max']}x).**",
            "",
        ]
    lines += [
        "| run | order | aiayn (s) | nanoGPT (s) | speed-up | aiayn step (ms) | nanoGPT step (ms) "
        "| step speed-up | val loss aiayn / nanoGPT |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, run in enumerate(r["runs"], 1):
        a, n = run["aiayn"], run.get("nanogpt")
        if n is None:
            lines.append(
                f"| {i} | aiayn | {a['wall_seconds']} |  |  | {a['step_ms']} |  |  | "
                f"{a['val_loss']} |"
            )
            continue
        lines.append(
            f"| {i} | {' first, '.join(run['order'])} second | {a['wall_seconds']} | "
            f"{n['wall_seconds']} | {run['speedup_wall']}x | {a['step_ms']} | {n['step_ms']} | "
            f"{run['speedup_step']}x | {a['val_loss']} / {n['val_loss']} |"
        )
    precision = r["aiayn_config"].get("train", {}).get("precision", "fp32")
    lines += [
        "",
        "Both train the same model on the same number of tokens "
        f"({r['runs'][0]['aiayn']['training_tokens']:,}). Precision: aiayn {precision}"
        + (
            " (autocast: matmuls in bf16, attention and loss in fp32, fp32 weights)"
            if precision == "bf16"
            else ""
        )
        + "; nanoGPT fp32 (its train.py uses no autocast on a CPU). A step is forward, "
        "backward, clipping and the optimiser; nanoGPT's is the median of the times it prints "
        "per iteration, aiayn's the median over its log intervals. nanoGPT's val loss is its "
        "estimate on 20 random batches; aiayn's is the whole validation split.",
    ]
    last = r["runs"][-1]
    for name in ("aiayn", "nanogpt"):
        if name in last:
            lines += ["", f"{name}: `{last[name]['command']}`"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
