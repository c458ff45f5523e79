"""Where the tiny Shakespeare step goes, aiayn against nanoGPT: the step of
benchmarks/shakespeare_vs_nanogpt.py, timed and profiled in one process.

    python benchmarks/profile_nanogpt_step.py --nanogpt-dir DIR [--precision fp32|bf16]

aiayn's step is its Trainer.train_step (forward, loss, backward, clipping, fused AdamW, the one
host synchronisation) on the model of benchmarks/configs/nanogpt_cpu.json; nanoGPT's is its
train.py loop body on its own GPT from DIR's model.py (forward with the loss, backward,
clip_grad_norm_, its configure_optimizers' AdamW, zero_grad, loss.item() as `log_interval=1`
prints it). Same dimensions, batch 12 x 64, random characters. nanoGPT always runs in fp32 (its
train.py uses no autocast on a CPU); `--precision` sets aiayn's.

Each step is profiled, every operator's self time put in the buckets of
benchmarks/profile_step.py; then the two are timed interleaved (A, B, A, B ...) and reported as
medians. The matrix multiplies are the same kernels on the same shapes in both, so in fp32 the
most aiayn can gain is what nanoGPT spends outside its matrix multiplies. Writes
benchmarks/results/profile-nanogpt-step-PRECISION.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from peers_common import interleaved, machine, matmul_peak, table, write_result
from profile_step import bucket_rows, profile_buckets

from aiayn.config import ModelConfig, TrainConfig
from aiayn.models.decoder_only import DecoderOnlyLM
from aiayn.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks/results"
VOCAB = 65  # tiny Shakespeare's characters
BATCH, CONTEXT = 12, 64


class _Batches:
    """The trainer's data source: the same fixed batches every epoch."""

    def __init__(self, batches: list[dict[str, torch.Tensor]]) -> None:
        self.batches = batches

    def epoch_batches(self, epoch: int) -> list[dict[str, torch.Tensor]]:
        return self.batches


def aiayn_step(config: dict[str, Any], precision: str, data: torch.Tensor) -> Callable[[], None]:
    model_opts = {**config["model"], "arch": "decoder-only", "vocab_size": VOCAB}
    model = DecoderOnlyLM(ModelConfig(**{**model_opts, "max_len": CONTEXT}))
    fields = TrainConfig.__dataclass_fields__
    train = {k: v for k, v in config["train"].items() if k in fields}
    train.update(precision=precision, tensorboard=False, plots=False)
    batches = [{"inputs": b[:, :-1], "targets": b[:, 1:]} for b in data]
    trainer = Trainer(
        model=model,
        config=TrainConfig(**train),
        train_data=_Batches(batches),
        out_dir=Path(tempfile.mkdtemp(prefix="aiayn-profile-")),
        device=torch.device("cpu"),
        d_model=model.config.d_model,
        pad_id=model.config.pad_id,
    )

    def step() -> None:
        trainer.step()

    return step


def nanogpt_step(nanogpt_dir: Path, config: dict[str, Any], data: torch.Tensor) -> Callable:
    sys.path.insert(0, str(nanogpt_dir))
    from model import GPT, GPTConfig  # nanoGPT's model.py

    m = config["model"]
    model = GPT(
        GPTConfig(
            block_size=CONTEXT,
            vocab_size=VOCAB,
            n_layer=m["n_layers"],
            n_head=m["n_heads"],
            n_embd=m["d_model"],
            dropout=0.0,
            bias=False,
        )
    )
    t = config["train"]
    # train.py's defaults: weight_decay 0.1, betas (0.9, beta2 of the shakespeare config)
    optimizer = model.configure_optimizers(0.1, t["lr"], (t["beta1"], t["beta2"]), "cpu")
    state = {"i": 0}

    def step() -> None:
        batch = data[state["i"] % len(data)]
        state["i"] += 1
        _, loss = model(batch[:, :-1].contiguous(), batch[:, 1:].contiguous())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t["clip_grad_norm"])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()

    return step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nanogpt-dir", type=Path, required=True, help="a checkout of nanoGPT")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="aiayn's")
    p.add_argument("--config", type=Path, default=ROOT / "benchmarks/configs/nanogpt_cpu.json")
    p.add_argument("--reps", type=int, default=200, help="timed steps of each")
    p.add_argument("--profile-steps", type=int, default=20)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if not (args.nanogpt_dir / "model.py").is_file():
        raise SystemExit(f"{args.nanogpt_dir / 'model.py'} not found: pass a nanoGPT checkout")
    config = json.loads(args.config.read_text(encoding="utf-8"))
    load_before = [round(x, 2) for x in os.getloadavg()]
    g = torch.Generator().manual_seed(0)
    data = torch.randint(1, VOCAB, (64, BATCH, CONTEXT + 1), generator=g)  # 0 is a pad to aiayn
    torch.manual_seed(0)
    steps = {
        "aiayn": aiayn_step(config, args.precision, data),
        "nanoGPT": nanogpt_step(args.nanogpt_dir.resolve(), config, data),
    }
    sides = {
        name: profile_buckets(step, args.profile_steps, warmup=10) for name, step in steps.items()
    }
    times = interleaved(steps, warmup=20, reps=args.reps)
    medians = {name: statistics.median(t) for name, t in times.items()}
    peak = matmul_peak(torch.float32, n=4096, reps=5)["flops_per_second"]
    ours, theirs = sides["aiayn"], sides["nanoGPT"]
    record = {
        "command": "python "
        + " ".join(["benchmarks/profile_nanogpt_step.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "precision": {"aiayn": args.precision, "nanoGPT": "fp32"},
        "step_seconds_median": medians,
        "speedup": medians["nanoGPT"] / medians["aiayn"],
        "fp32_matmul_peak_flops_per_second": peak,
        "sides": sides,
        "bounds": {
            "nanogpt_gemm_speed_over_fp32_peak": theirs["gemm_flops"]
            / theirs["gemm_seconds"]
            / peak,
            "best_ratio_if_only_nanogpt_gemms_took_time": theirs["step_seconds"]
            / theirs["gemm_seconds"],
        },
    }
    target = 2.0 if args.precision == "bf16" else 1.2  # the speed-ups aiayn aims for
    rest = {name: s["step_seconds"] - s["gemm_seconds"] for name, s in sides.items()}
    rows = bucket_rows([ours, theirs], decimals=1)
    b = record["bounds"]
    lines = [
        f"# Where the tiny Shakespeare step goes: aiayn ({args.precision}) and nanoGPT (fp32)",
        "",
        f"`{record['command']}`",
        "",
        f"{record['machine']['cpu_model']}, {record['machine']['torch_threads']} torch threads, "
        f"torch {torch.__version__}; load average {load_before} before, "
        f"{record['load_average_after']} after. Model of {args.config.name} (4 layers, d_model "
        f"128, 0.80M parameters), batch {BATCH} x {CONTEXT}.",
        "",
        f"**Median step, timed interleaved over {args.reps} steps each: aiayn "
        f"{1e3 * medians['aiayn']:.1f} ms, nanoGPT {1e3 * medians['nanoGPT']:.1f} ms: aiayn "
        f"{record['speedup']:.2f}x.**",
        "",
        f"Self time per step under torch.profiler ({args.profile_steps} steps; the profiler adds "
        "its own overhead):",
        "",
        *table(["bucket", f"aiayn ({args.precision})", "nanoGPT (fp32)"], rows),
        "",
        f"- The matrix multiplies, the same shapes on both sides: aiayn "
        f"{1e3 * ours['gemm_seconds']:.1f} ms a step in {args.precision}, nanoGPT "
        f"{1e3 * theirs['gemm_seconds']:.1f} ms in fp32 "
        f"({100 * b['nanogpt_gemm_speed_over_fp32_peak']:.0f}% of the fp32 torch.mm peak, "
        f"{peak / 1e9:.0f} GFLOP/s at n = 4096).",
        f"- Everything else: aiayn {1e3 * rest['aiayn']:.1f} ms, nanoGPT "
        f"{1e3 * rest['nanoGPT']:.1f} ms, mostly the same operators on both sides (GELU and its "
        "backward, the attention kernel, LayerNorm, residual additions"
        + ("; under bf16 autocast also the casts" if args.precision == "bf16" else "")
        + "); aiayn's one-kernel AdamW is where it does less.",
        f"- To be {target}x nanoGPT's timed step, aiayn's step would have to take "
        f"{1e3 * medians['nanoGPT'] / target:.1f} ms (timed), while its matrix multiplies alone "
        f"take {1e3 * ours['gemm_seconds']:.1f} ms (profiled): the element-wise work would have "
        "to shrink by fusing it into fewer kernels, which is what torch.compile does, at the "
        "price of its compile time in every run.",
        "",
    ]
    write_result(args.out, f"profile-nanogpt-step-{args.precision}", record, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
