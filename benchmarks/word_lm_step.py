"""One training step of a word-level LM: counting correct tokens with argmax vs with amax.

    python benchmarks/word_lm_step.py [--steps 8] [--threads 2]

Over a word vocabulary the (B*T, V) logits dominate a small model's step, and on a CPU argmax
over bf16 logits is many times slower than amax. `compute_loss` counts a token as correct when
its target's logit equals the row's amax; this times the whole step (bf16 autocast, forward,
loss, backward, Adam) both ways, interleaved in one process, for the shape of
`aiayn train shakespeare --set d_model=256 --set d_ff=1024` (vocabulary 17,367, batch 32 x 128).
Records into benchmarks/results/word_lm_step.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

from aiayn import build_model
from aiayn.config import ModelConfig
from aiayn.training.device import keep_freed_memory
from aiayn.training.loss import compute_loss, label_smoothed_cross_entropy

ROOT = Path(__file__).resolve().parents[1]
VOCAB, BATCH, CONTEXT = 17_367, 32, 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    torch.manual_seed(0)
    config = ModelConfig(
        arch="decoder-only", vocab_size=VOCAB, d_model=256, n_heads=4, d_ff=1024, n_layers=4,
        max_len=CONTEXT, p_drop=0.1, norm_first=True, activation="gelu", positional="learned",
    )  # fmt: skip
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    stream = torch.randint(4, VOCAB, (BATCH, CONTEXT + 1))
    batch = {"inputs": stream[:, :-1], "targets": stream[:, 1:]}

    def with_argmax() -> tuple[torch.Tensor, torch.Tensor]:  # what compute_loss did before
        logits = model(batch["inputs"]).reshape(-1, VOCAB)
        target = batch["targets"].reshape(-1)
        loss, n = label_smoothed_cross_entropy(logits, target, ignore_index=0)
        with torch.no_grad():
            (logits.argmax(-1) == target).sum()
        return loss, n

    def with_amax() -> tuple[torch.Tensor, torch.Tensor]:
        out = compute_loss(model, batch)
        return out.loss_sum, out.n_targets

    times: dict[str, list[float]] = {"argmax": [], "amax": []}
    for i in range(args.steps + 1):
        for name, step in (("argmax", with_argmax), ("amax", with_amax)):
            started = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss, n = step()
            (loss / n).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if i > 0:  # the first round warms up the allocator and the kernels
                times[name].append(time.perf_counter() - started)
    median = {name: statistics.median(ts) for name, ts in times.items()}
    record = {
        "command": shlex.join(["python", *sys.argv]),
        "threads": args.threads,
        "seconds_per_step": times,
        "median_seconds": median,
        "speedup": median["argmax"] / median["amax"],
    }
    out = ROOT / "benchmarks" / "results"
    (out / "word_lm_step.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [
        "# word_lm_step",
        "",
        f"`{record['command']}` ({args.threads} threads, {args.steps} steps each, interleaved)",
        "",
        "| correct-token count | median step (s) |",
        "|---|---|",
        f"| argmax (before) | {median['argmax']:.3f} |",
        f"| amax (now) | {median['amax']:.3f} |",
        "",
        f"Speed-up of the whole step: {record['speedup']:.2f}x",
    ]
    (out / "word_lm_step.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
