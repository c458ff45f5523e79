"""Where a training step's time goes: the peer benchmark's step under torch.profiler, per side.

    python benchmarks/profile_step.py [--size small|paper-base] [--precision fp32|bf16] [--quick]

The step is exactly benchmarks/peers_seq2seq.py's (same model, batch, loss and Adam) for aiayn
and torch.nn.Transformer. Every operator's self time is put in one bucket (matrix multiplies, the
fused attention kernel, the log-softmax and loss over the vocabulary, dropout's random numbers,
LayerNorm, casts and copies, Adam, other element-wise work), and the matrix multiplies' FLOPs
(the profiler's count) over their time give the speed the GEMMs themselves reach, against the
torch.mm peak measured in the same run. Two bounds follow from it:
- the fastest aiayn could be against torch.nn if everything but its matrix multiplies took no
  time at all (torch.nn's step over aiayn's GEMM time);
- the highest MFU any implementation could reach with these GEMM shapes (their speed over the
  peak), since model FLOPs are almost all GEMM FLOPs.

Writes benchmarks/results/profile-SIZE-PRECISION.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import peers_seq2seq as seq  # noqa: E402
import torch  # noqa: E402
from peers_common import machine, matmul_peak, table, write_result  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

RESULTS = Path(__file__).parent / "results"
SIDES = ("aiayn", "torch.nn.Transformer")
# bucket -> substrings of operator names (first match wins, in this order)
BUCKETS: dict[str, tuple[str, ...]] = {
    "matrix multiplies": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::linear"),
    "attention kernel": ("scaled_dot_product", "flash_attention", "efficient_attention"),
    "log-softmax and loss": ("log_softmax", "nll_loss", "cross_entropy", "aten::softmax"),
    "dropout random numbers": ("bernoulli", "random_", "uniform_", "native_dropout"),
    "LayerNorm": ("layer_norm",),
    "casts and copies": ("aten::copy_", "aten::_to_copy", "aten::to", "aten::clone"),
    "Adam": ("_foreach", "lerp", "addcdiv", "addcmul", "aten::sqrt", "Optimizer"),
}


def bucket_of(name: str) -> str:
    for bucket, keys in BUCKETS.items():
        if any(k in name for k in keys):
            return bucket
    return "other element-wise and bookkeeping"


def profile_side(side: str, size: str, precision: str, quick: bool, steps: int) -> dict[str, Any]:
    shape = seq.sizes(quick)[size]
    c = shape["config"]
    torch.manual_seed(0)
    model, forward, _ = seq.build_side(side, c)
    model.train()
    step, _ = seq.make_step(model, forward, seq.make_batch(shape, c.vocab_size), precision)
    return profile_buckets(step, steps, warmup=3)


def profile_buckets(step: Callable[[], Any], steps: int, *, warmup: int) -> dict[str, Any]:
    """Run `step` `warmup` times (allocator, kernels, Adam's state), then `steps` times under
    torch.profiler; return the self time per step of each bucket, the step's total, and the
    matrix multiplies' seconds and FLOPs per step."""
    for _ in range(warmup):
        step()
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        for _ in range(steps):
            step()
    buckets: dict[str, float] = {}
    gemm_flops = gemm_seconds = total = 0.0
    for event in prof.key_averages():
        seconds = event.self_cpu_time_total / 1e6 / steps
        total += seconds
        bucket = bucket_of(event.key)
        buckets[bucket] = buckets.get(bucket, 0.0) + seconds
        if bucket == "matrix multiplies":
            gemm_seconds += seconds
            gemm_flops += (event.flops or 0) / steps
    return {
        "step_seconds": total,
        "buckets": dict(sorted(buckets.items(), key=lambda kv: -kv[1])),
        "gemm_seconds": gemm_seconds,
        "gemm_flops": gemm_flops,
    }


def bucket_rows(sides: list[dict[str, Any]], *, decimals: int) -> list[list[str]]:
    """Table rows of profiled steps side by side: each bucket's milliseconds and share of its
    side's step, then the whole step."""
    names = list(dict.fromkeys(name for side in sides for name in side["buckets"]))
    rows = [
        [
            name,
            *(
                f"{1e3 * s['buckets'].get(name, 0.0):.{decimals}f} ms "
                f"({100 * s['buckets'].get(name, 0.0) / s['step_seconds']:.0f}%)"
                for s in sides
            ),
        ]
        for name in names
    ]
    rows.append(["the step", *(f"{1e3 * s['step_seconds']:.{decimals}f} ms" for s in sides)])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="paper-base", choices=["small", "paper-base"])
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="the tiny size, for a smoke test")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    size = "tiny" if args.quick else args.size
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    load_before = os.getloadavg()
    n = 512 if args.quick else 4096
    peak = matmul_peak(dtype, n=n, reps=5)["flops_per_second"]
    shape = seq.sizes(args.quick)[size]
    model_flops, _ = seq.flops_per_step(shape["config"], shape)
    sides = {s: profile_side(s, size, args.precision, args.quick, args.steps) for s in SIDES}
    ours, theirs = sides["aiayn"], sides["torch.nn.Transformer"]
    record = {
        "command": "python " + " ".join(["benchmarks/profile_step.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "size": size,
        "precision": args.precision,
        "batch": {k: shape[k] for k in ("batch", "src_len", "tgt_len")},
        "matmul_peak_flops_per_second": peak,
        "model_flops_per_step": model_flops,
        "sides": sides,
        "bounds": {
            "gemm_speed_over_peak": ours["gemm_flops"] / ours["gemm_seconds"] / peak,
            "best_ratio_vs_torch_nn_if_only_gemms_took_time": theirs["step_seconds"]
            / ours["gemm_seconds"],
            "mfu_under_the_profiler": model_flops / ours["step_seconds"] / peak,
        },
    }
    b = record["bounds"]
    rows = bucket_rows([ours, theirs], decimals=0)
    lines = [
        f"# Where a training step goes: {size}, {args.precision}",
        "",
        f"`{record['command']}`",
        "",
        f"{record['machine']['cpu_model']}, {record['machine']['torch_threads']} torch threads, "
        f"torch {torch.__version__}; load average {load_before[0]:.2f} before, "
        f"{record['load_average_after'][0]:.2f} after. Batch {shape['batch']} x "
        f"{shape['src_len']} -> {shape['tgt_len']}, the step of benchmarks/peers_seq2seq.py, "
        f"self time per step under torch.profiler (the profiler adds its own overhead).",
        "",
        *table(["bucket", "aiayn", "torch.nn.Transformer"], rows),
        "",
        f"- The GEMMs run at {100 * b['gemm_speed_over_peak']:.0f}% of the torch.mm peak "
        f"({peak / 1e9:.0f} GFLOP/s, n = {n}): no implementation with these matrix shapes can "
        f"reach a higher MFU.",
        f"- If everything but its GEMMs took no time, aiayn would be "
        f"{b['best_ratio_vs_torch_nn_if_only_gemms_took_time']:.2f}x torch.nn's step: the most "
        "any change outside the matrix multiplies can buy.",
        "",
    ]
    stem = f"profile-{size}-{args.precision}"
    write_result(args.out, stem, record, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
