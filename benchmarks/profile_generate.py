"""Where a generated token's time goes, and the memory-bandwidth bound on it.

    python benchmarks/profile_generate.py [--quick] [--tokens 128]

The model is benchmarks/peers_generate.py's (6 layers, d_model 512, GPT-2's layout). At batch 1
every new token multiplies one vector by every weight matrix, so each token reads all the
weights from memory once and does about two FLOPs per weight it reads: the machine's memory
bandwidth, not its arithmetic, sets the pace. This script measures
1. the bandwidth a large copy reaches on this machine (read + write, GB/s);
2. the time per token of aiayn's cached greedy generation and of GPT2LMHeadModel.generate with
   the same weights, in fp32 and with bf16 weights, interleaved;
3. the bytes of weights each token reads, and so the bandwidth each side reaches, and the
   fastest any implementation could go if it did nothing but read the weights at the measured
   copy bandwidth;
4. aiayn's token under torch.profiler: the share of the matrix-vector products.

Writes benchmarks/results/profile-generate.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import peers_generate as gen  # noqa: E402
import torch  # noqa: E402
from peers_common import interleaved, machine, table, write_result  # noqa: E402
from profile_step import bucket_of  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from aiayn.decoding import SamplingOptions, generate  # noqa: E402
from aiayn.interop.hf_gpt2 import to_gpt2  # noqa: E402
from aiayn.models import build_model  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def copy_bandwidth(mib: int, reps: int = 5) -> float:
    """Bytes per second of the best of `reps` copies of a `mib` MiB tensor (read + write)."""
    src = torch.ones(mib * 2**20 // 4)
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(reps + 1):
        started = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - started)
    return 2 * src.numel() * 4 / best


def weight_bytes(model: torch.nn.Module, dtype: torch.dtype) -> int:
    """Bytes of the weights one token reads: every parameter once (the embedding, tied to the
    output projection, whole), but of the position table the one row it looks up."""
    total, seen = 0, set()
    for name, p in model.named_parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += (p.shape[-1] if "position" in name else p.numel()) * dtype.itemsize
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per timed generation")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny model, for a smoke test")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    c, _, _ = gen.config(args.quick)
    new = 8 if args.quick else args.tokens
    c = c.replace(max_len=gen.PROMPT + new)
    bandwidth = copy_bandwidth(16 if args.quick else 512)
    torch.manual_seed(0)
    ours = build_model(c).eval()
    theirs = to_gpt2(ours).eval()
    prompt = torch.randint(
        4, c.vocab_size, (1, gen.PROMPT), generator=torch.Generator().manual_seed(0)
    )
    greedy = SamplingOptions(max_new_tokens=new, temperature=0.0)
    rows: list[dict[str, Any]] = []
    mask = torch.ones_like(prompt)
    for precision, dtype in gen.DTYPES.items():
        a, b = ours.to(dtype), theirs.to(dtype)
        steps = {
            "aiayn": lambda a=a: generate(a, prompt, greedy),
            "hf": lambda b=b: b.generate(
                prompt,
                attention_mask=mask,
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
                num_beams=1,
                pad_token_id=0,
            ),  # fmt: skip
        }
        times = interleaved(steps, warmup=1, reps=args.reps)
        per_token = {k: statistics.median(v) / new for k, v in times.items()}
        nbytes = weight_bytes(a, dtype)
        floor = nbytes / bandwidth
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            generate(a, prompt, greedy)
        buckets: dict[str, float] = {}
        for event in prof.key_averages():
            bucket = bucket_of(event.key)
            buckets[bucket] = buckets.get(bucket, 0.0) + event.self_cpu_time_total / 1e6
        total = sum(buckets.values())
        rows.append({
            "precision": precision,
            "weight_bytes_per_token": nbytes,
            "aiayn_ms_per_token": 1e3 * per_token["aiayn"],
            "hf_ms_per_token": 1e3 * per_token["hf"],
            "aiayn_over_hf": per_token["hf"] / per_token["aiayn"],
            "aiayn_gb_per_s": nbytes / per_token["aiayn"] / 1e9,
            "hf_gb_per_s": nbytes / per_token["hf"] / 1e9,
            "floor_ms_per_token": 1e3 * floor,
            "best_possible_over_hf": per_token["hf"] / floor,
            "aiayn_profile_shares": {k: v / total for k, v in buckets.items()},
        })  # fmt: skip
    record = {
        "command": "python "
        + " ".join(["benchmarks/profile_generate.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "copy_bandwidth_gb_per_s": bandwidth / 1e9,
        "new_tokens": new,
        "rows": rows,
    }
    lines = [
        "# Generation at batch 1: the memory-bandwidth bound",
        "",
        f"`{record['command']}`",
        "",
        f"{record['machine']['cpu_model']}, {record['machine']['torch_threads']} torch threads, "
        f"torch {torch.__version__}; load average {load_before[0]:.2f} before, "
        f"{record['load_average_after'][0]:.2f} after. {new} new tokens after an "
        f"{gen.PROMPT}-token prompt, greedy, batch 1, medians of interleaved runs. A large copy "
        f"moves {bandwidth / 1e9:.1f} GB/s (read + write).",
        "",
        *table(
            [
                "precision",
                "weights read per token",
                "aiayn ms/token",
                "HF ms/token",
                "aiayn / HF",
                "aiayn GB/s",
                "HF GB/s",
                "floor ms/token",
                "floor / HF",
                "matrix products (aiayn)",
            ],
            [
                [
                    r["precision"],
                    f"{r['weight_bytes_per_token'] / 2**20:.0f} MiB",
                    f"{r['aiayn_ms_per_token']:.2f}",
                    f"{r['hf_ms_per_token']:.2f}",
                    f"**{r['aiayn_over_hf']:.2f}x**",
                    f"{r['aiayn_gb_per_s']:.1f}",
                    f"{r['hf_gb_per_s']:.1f}",
                    f"{r['floor_ms_per_token']:.2f}",
                    f"{r['best_possible_over_hf']:.2f}x",
                    f"{100 * r['aiayn_profile_shares'].get('matrix multiplies', 0):.0f}%",
                ]
                for r in rows
            ],
        ),  # fmt: skip
        "",
        "The floor is the time to read the weights once at the copy bandwidth; `floor / HF` is "
        "the most any implementation could gain on Hugging Face's generate at batch 1 without "
        "reading fewer bytes (lower precision, or a smaller model).",
        "",
    ]
    stem = "profile-generate" + ("-quick" if args.quick else "")
    write_result(args.out, stem, record, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
