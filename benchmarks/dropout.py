"""aiayn's CPU dropout (16 random bits per element) against torch's F.dropout, side by side.

1. The operation alone, forward and backward, at the shapes training meets (DialogSum's encoder
   input, the peer benchmark's batch), in fp32 and bf16.
2. A whole training step (forward, loss, backward, Adam) of the `small` encoder-decoder on a
   DialogSum-shaped batch under the run's precision, once with aiayn's Dropout modules and once
   with each replaced by torch.nn.Dropout: the same model, weights and batch.

Interleaved, medians after warm-up; the ratio is the headline. Writes
benchmarks/results/dropout.{json,md}.

    python benchmarks/dropout.py [--reps 20] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from peers_common import interleaved, machine, table, write_result

from aiayn import build_model, model_preset
from aiayn.nn.dropout import Dropout, dropout
from aiayn.training.loss import compute_loss

RESULTS = Path(__file__).parent / "results"
P = 0.1


def op_times(shape: tuple[int, ...], dtype: torch.dtype, reps: int) -> dict[str, float]:
    x = torch.randn(*shape).to(dtype).requires_grad_()
    grad = torch.ones_like(x)

    def torch_side() -> None:
        F.dropout(x, P, training=True).backward(grad)

    def aiayn_side() -> None:
        dropout(x, P, training=True).backward(grad)

    times = interleaved({"torch": torch_side, "aiayn": aiayn_side}, warmup=3, reps=reps)
    return {k: statistics.median(v) for k, v in times.items()}


def with_torch_dropout(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` whose aiayn Dropout modules are torch.nn.Dropout of the same p."""
    other = copy.deepcopy(model)
    for parent in other.modules():
        for name, child in parent.named_children():
            if isinstance(child, Dropout):
                setattr(parent, name, torch.nn.Dropout(child.p))
    return other


def step_times(batch: int, src: int, tgt: int, precision: str, reps: int) -> dict[str, float]:
    torch.manual_seed(0)
    config = model_preset("small", vocab_size=8000)
    models = {"aiayn": build_model(config)}
    models["torch"] = with_torch_dropout(models["aiayn"])
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(4, 8000, (batch, src + tgt + 1), generator=g)
    data = {"src": ids[:, :src], "tgt_in": ids[:, src:-1], "tgt_out": ids[:, src + 1 :]}
    steps = {}
    for name, model in models.items():
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step(model: torch.nn.Module = model, opt: torch.optim.Optimizer = opt) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                out = compute_loss(model, data, pad_id=0, label_smoothing=0.1)
            (out.loss_sum / out.n_targets).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        steps[name] = step
    times = interleaved(steps, warmup=2, reps=reps)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="tiny shapes, for a smoke test")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    reps = 2 if args.quick else args.reps
    load_before = os.getloadavg()
    shapes = {"DialogSum encoder input, 27 x 200 x 256": (27, 200, 256),
              "peer benchmark, 64 x 24 x 512": (64, 24, 512)}  # fmt: skip
    if args.quick:
        shapes = {"tiny, 4 x 8 x 16": (4, 8, 16)}
    ops = []
    for label, shape in shapes.items():
        for dtype in (torch.float32, torch.bfloat16):
            t = op_times(shape, dtype, reps)
            ops.append({"shape": label, "dtype": str(dtype).removeprefix("torch."),
                        "torch_ms": 1e3 * t["torch"], "aiayn_ms": 1e3 * t["aiayn"],
                        "speedup": t["torch"] / t["aiayn"]})  # fmt: skip
    step_shape = (4, 8, 6) if args.quick else (27, 200, 35)
    steps = []
    for precision in ("fp32", "bf16"):
        t = step_times(*step_shape, precision, max(2, reps // 2))
        steps.append({"precision": precision, "torch_s": t["torch"], "aiayn_s": t["aiayn"],
                      "speedup": t["torch"] / t["aiayn"]})  # fmt: skip
    record = {
        "command": "python " + " ".join(["benchmarks/dropout.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "p": P,
        "operation": ops,
        "training_step": {"batch x source x target": list(step_shape), "rows": steps},
    }
    lines = [
        "# Dropout on the CPU: aiayn's 16-bit mask against F.dropout",
        "",
        f"`{record['command']}`",
        "",
        f"{record['machine']['cpu_model']}, {record['machine']['torch_threads']} torch threads, "
        f"torch {torch.__version__}; load average {load_before[0]:.2f} before, "
        f"{record['load_average_after'][0]:.2f} after. p = {P}. Medians, interleaved.",
        "",
        "Forward and backward of the operation alone:",
        "",
        *table(
            ["shape", "dtype", "F.dropout (ms)", "aiayn (ms)", "speed-up"],
            [
                [
                    o["shape"],
                    o["dtype"],
                    f"{o['torch_ms']:.2f}",
                    f"{o['aiayn_ms']:.2f}",
                    f"**{o['speedup']:.2f}x**",
                ]
                for o in ops
            ],
        ),  # fmt: skip
        "",
        f"A training step of the `small` encoder-decoder, batch {step_shape[0]} x "
        f"{step_shape[1]} -> {step_shape[2]} (forward, loss, backward, Adam), the same model with "
        "torch.nn.Dropout in place of aiayn's:",
        "",
        *table(
            ["precision", "with torch.nn.Dropout (s)", "with aiayn's (s)", "speed-up"],
            [
                [
                    s["precision"],
                    f"{s['torch_s']:.3f}",
                    f"{s['aiayn_s']:.3f}",
                    f"**{s['speedup']:.2f}x**",
                ]
                for s in steps
            ],
        ),  # fmt: skip
        "",
    ]
    stem = "dropout-quick" if args.quick else "dropout"
    write_result(args.out, stem, record, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
