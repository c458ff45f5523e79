"""Multi30k de->en: train with the README command, then score greedy, beam and beam + averaging.

    python benchmarks/multi30k.py --minutes 90 [--data-dir DIR] [--set KEY=VALUE ...]

Records into benchmarks/results/multi30k[-TAG].json and .md: the exact command, wall-clock,
steps and steps/s, parameter count, sacreBLEU / chrF with signatures on val and test for greedy,
beam, and beam on the average of the last N checkpoints, the beam settings, and the time to reach
greedy BLEU 35 on the validation subset that training evaluates periodically.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_command(argv: list[str]) -> tuple[str, float]:
    """Run `argv` from the repository root: (its stdout, seconds); exit with its stderr if it
    fails."""
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {shlex.join(argv)}\n{done.stderr[-2000:]}")
    return done.stdout, time.perf_counter() - started


def _time_to_bleu(metrics: list[dict], target: float) -> dict | None:
    for record in metrics:
        for key, value in record.items():
            if key.startswith("val_bleu_greedy") and value >= target:
                return {
                    "step": record["step"],
                    "wall_seconds": record.get("wall_seconds"),
                    key: value,
                }
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=90.0, help="training time budget")
    p.add_argument("--out", default="runs/multi30k-bench", help="run directory (must not exist)")
    p.add_argument("--data-dir", help="folder holding multi30k/ (else AIAYN_DATA_DIR or cache)")
    p.add_argument("--set", action="append", default=[], help="passed to `aiayn train`")
    p.add_argument("--average-last", type=int, default=5, help="checkpoints to average")
    p.add_argument("--tag", default="", help="suffix of the result files")
    args = p.parse_args()

    aiayn = [sys.executable, "-m", "aiayn"]
    data = ["--data-dir", args.data_dir] if args.data_dir else []
    train = [*aiayn, "train", "multi30k", "--out", args.out, "--max-minutes", str(args.minutes)]
    train += data + [x for s in args.set for x in ("--set", s)]
    _, wall = run_command(train)

    out = ROOT / args.out
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))

    averaged: dict = {}
    checkpoints = sorted((out / "checkpoints").glob("step-*"))
    n_avg = min(args.average_last, len(checkpoints))
    if n_avg >= 2:
        run_command([*aiayn, "average", args.out, "--last", str(n_avg)])
        for split in ("val", "test"):
            stdout, _ = run_command(
                [*aiayn, "eval", args.out, "--split", split, "--checkpoint", "averaged", *data]
            )
            averaged[split] = json.loads(stdout)

    def pick(scores: dict) -> dict:
        keys = ("bleu", "chrf", "bleu_lc_tok", "bleu_signature", "chrf_signature")
        return {k: scores[k] for k in keys}

    result = {
        "command": shlex.join(["aiayn", *train[3:]]),
        "wall_clock_seconds": round(wall, 1),
        "train_seconds": summary["seconds"],
        "steps": summary["steps"],
        "steps_per_second": round(summary["steps"] / max(summary["seconds"], 1e-9), 4),
        "stopped": summary["stopped"],
        "parameters": summary["parameters"],
        "model": {k: config["model"][k] for k in ("d_model", "n_heads", "d_ff", "n_layers")},
        "train": {k: config["train"][k] for k in ("batch_tokens", "lr", "warmup_steps")},
        "beam": summary["beam"],
        "alpha": summary["alpha"],
        "cpu_cores": os.cpu_count(),
        # OMP_NUM_THREADS=1 lets two runs (de-en and en-de) share a 2-core machine, one core each.
        "torch_threads": int(os.environ.get("OMP_NUM_THREADS", 0)) or os.cpu_count(),
        "direction": config.get("task_options", {}).get("direction", "de-en"),
        "time_to_val_bleu_35": _time_to_bleu(metrics, 35.0),
        "val_bleu_curve": [
            {k: v for k, v in m.items() if k in ("step", "wall_seconds", "val_loss") or "bleu" in k}
            for m in metrics
            if "val_loss" in m
        ],
    }
    for split in ("val", "test"):
        result[split] = {
            "greedy": pick(summary[f"{split}_greedy"]),
            "beam": pick(summary[f"{split}_beam"]),
        }
        if split in averaged:
            a = averaged[split]
            result[split][f"beam_averaged_last{n_avg}"] = {
                k: a[f"{split}_{k}"] for k in ("bleu", "chrf", "bleu_lc_tok", "bleu_signature")
            }

    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stem = "multi30k" + (f"-{args.tag}" if args.tag else "")
    (results / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"# Multi30k {result['direction']} benchmark{f' ({args.tag})' if args.tag else ''}",
        "",
        f"Command: `{result['command']}`",
        f"Wall-clock {wall / 60:.1f} min; {result['steps']} steps, "
        f"{result['steps_per_second']} steps/s; {result['parameters']:,} parameters; "
        f"beam {result['beam']}, alpha {result['alpha']}; "
        f"{result['torch_threads']} torch thread(s) on a {result['cpu_cores']}-core CPU.",
        f"Time to greedy val-subset BLEU 35: {result['time_to_val_bleu_35'] or 'not reached'}",
        "",
        "| split | decoding | sacreBLEU | chrF | tok. lowercase BLEU |",
        "|---|---|---|---|---|",
    ]
    for split in ("val", "test"):
        for kind, s in result[split].items():
            lines.append(
                f"| {split} | {kind} | {s['bleu']:.2f} | {s['chrf']:.2f} | {s['bleu_lc_tok']:.2f} |"
            )
    lines += ["", f"BLEU signature: `{result['test']['beam']['bleu_signature']}`"]
    lines += [f"chrF signature: `{result['test']['beam']['chrf_signature']}`", ""]
    (results / f"{stem}.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
