"""Char-level tiny Shakespeare on CPU: aiayn against nanoGPT, side by side, in one run.

Both train the same model size (4 layers, 4 heads, d_model 128, context 64, 0.80M parameters) on
the same number of training tokens (2000 steps x 12 sequences x 64 characters, unless a config
changes the batch shape but keeps the product), and the wall-clock of each whole command is
timed: start-up, data, evaluations and checkpoints included.

    python benchmarks/shakespeare_vs_nanogpt.py --data-dir /work/shared/data \
        [--nanogpt-dir DIR] [--threads N] [--config benchmarks/configs/nanogpt_cpu.json]

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

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
    seconds, _ = _run(cmd, cwd=ROOT, env=env, log=work / "aiayn.log")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    train = json.loads((out / "config.json").read_text(encoding="utf-8"))["train"]
    return {
        "command": " ".join(["aiayn", *cmd[3:]]),
        "wall_seconds": round(seconds, 1),
        "train_seconds": summary["seconds"],
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
    return {
        "command": "python train.py " + " ".join(NANOGPT_ARGS),
        "wall_seconds": round(seconds, 1),
        "val_loss": float(val),
        "val_loss_measured_on": "20 random batches of 12 x 64 (eval_iters=20)",
        "steps": int(step),
        "training_tokens": int(step) * 12 * 64,
        "parameters": "0.80M (its count excludes position embeddings)",
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("AIAYN_DATA_DIR", "/work/shared/data"))
    p.add_argument("--nanogpt-dir", type=Path, help="a checkout of karpathy/nanoGPT")
    p.add_argument("--config", type=Path, default=ROOT / "benchmarks/configs/nanogpt_cpu.json")
    p.add_argument("--threads", type=int, help="OMP_NUM_THREADS for both (default: torch's)")
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks/results")
    p.add_argument("--nanogpt-first", action="store_true", help="run nanoGPT before aiayn")
    p.add_argument("--tag", default="", help="suffix of the result files (keeps earlier ones)")
    args = p.parse_args()

    data_dir = Path(args.data_dir)
    input_txt = data_dir / "tinyshakespeare" / "input.txt"
    if not input_txt.is_file():
        raise SystemExit(f"{input_txt} not found: pass --data-dir with tinyshakespeare/input.txt")
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    work = Path(tempfile.mkdtemp(prefix="aiayn-vs-nanogpt-"))
    jobs = [("aiayn", lambda: run_aiayn(args.config, data_dir, env, work))]
    if args.nanogpt_dir is not None:
        job = ("nanogpt", lambda: run_nanogpt(args.nanogpt_dir.resolve(), input_txt, env, work))
        jobs.insert(0 if args.nanogpt_first else 1, job)
    results: dict = {
        "benchmark": "char-level tiny Shakespeare, CPU, aiayn vs nanoGPT",
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "unset"),
            "load_average_at_start": os.getloadavg(),
        },
        "aiayn_config": json.loads(args.config.read_text(encoding="utf-8")),
    }
    for name, job in jobs:
        print(f"running {name} ...", flush=True)
        results[name] = job()
        print(json.dumps(results[name], indent=2), flush=True)
    if "nanogpt" in results:
        results["speedup_wall"] = round(
            results["nanogpt"]["wall_seconds"] / results["aiayn"]["wall_seconds"], 2
        )
    results["machine"]["load_average_at_end"] = os.getloadavg()
    args.results.mkdir(parents=True, exist_ok=True)
    stem = "shakespeare_vs_nanogpt" + (f"-{args.tag}" if args.tag else "")
    (args.results / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    (args.results / f"{stem}.md").write_text(_markdown(results), encoding="utf-8")
    shutil.rmtree(work / "aiayn-run", ignore_errors=True)
    print(f"logs in {work}; results in {args.results}")
    return 0


def _markdown(r: dict) -> str:
    lines = [
        "# aiayn vs nanoGPT: char-level tiny Shakespeare on CPU",
        "",
        f"Command: `{r['command']}`",
        "",
        f"Machine: {r['machine']['cpus']} CPUs, torch {r['machine']['torch']}, "
        f"OMP_NUM_THREADS={r['machine']['OMP_NUM_THREADS']}, load average at start "
        f"{r['machine']['load_average_at_start'][0]:.1f} (other jobs share the machine: compare "
        "the two rows of this table, not with other runs).",
        "",
        "| | wall-clock (s) | val loss | steps | training tokens |",
        "|---|---|---|---|---|",
    ]
    for name in ("aiayn", "nanogpt"):
        if name in r:
            x = r[name]
            lines.append(
                f"| {name} | {x['wall_seconds']} | {x['val_loss']} | {x['steps']} | "
                f"{x['training_tokens']} |"
            )
    if "speedup_wall" in r:
        lines += ["", f"aiayn is {r['speedup_wall']}x faster (wall-clock)."]
    precision = r["aiayn_config"].get("train", {}).get("precision", "fp32")
    lines += [
        "",
        f"Precision: aiayn {precision}"
        + (
            " (autocast: matmuls in bf16, attention and loss in fp32, fp32 weights)"
            if precision == "bf16"
            else ""
        )
        + "; nanoGPT fp32 (its train.py uses no autocast on a CPU).",
    ]
    for name in ("aiayn", "nanogpt"):
        if name in r:
            lines += ["", f"{name}: `{r[name]['command']}`"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
