"""aiayn against its peers, in one process, on one machine: each section measures one thing.

    python benchmarks/peers.py [--only SECTION ...] [--quick] [--threads N] [--warmup W] [--reps R]

Sections (see each module's docstring):
    generate        greedy generation, 512 new tokens at batch 1 and 8: aiayn with and without
                    the KV cache against GPT2LMHeadModel.generate, same weights
                    (benchmarks/peers_generate.py)
    beam            beam 4 translation of 100 Multi30k sentences with a trained run's weights in
                    aiayn and in MarianMTModel.generate, outputs compared (--beam-run RUN;
                    benchmarks/peers_beam.py)
    seq2seq-train   training throughput of the encoder-decoder (`small` and `paper-base`
                    dimensions, batch 64 x 24 -> 24 random ids) in aiayn, torch.nn.Transformer
                    and Hugging Face's MarianMTModel, fp32 and bf16 autocast; MFU against the
                    torch.mm peaks measured at the start; peak memory per side in a child process
                    (benchmarks/peers_seq2seq.py)

`--quick` is a smoke run of seconds at tiny sizes; it writes peers-quick.{json,md} so that it never
overwrites real results. A full run writes benchmarks/results/peers.{json,md}; with `--only`, the
sections it ran replace theirs in the existing files and the others are kept. Every section
records its own machine, load averages, command and peaks, since sections may be run apart.

A new section is a module with `run(ctx) -> (record, markdown lines)` (and `child(spec)` if it
measures in child processes), registered in SECTIONS below.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every peer is built from a config; no downloads

import peers_beam  # noqa: E402
import peers_generate  # noqa: E402
import peers_seq2seq  # noqa: E402
import torch  # noqa: E402
from peers_common import Context, child_main, machine, matmul_peak  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SECTIONS: dict[str, Callable[[Context], tuple[dict[str, Any], list[str]]]] = {
    peers_seq2seq.NAME: peers_seq2seq.run,
    peers_generate.NAME: peers_generate.run,
    peers_beam.NAME: peers_beam.run,
}
CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    peers_seq2seq.NAME: peers_seq2seq.child,
}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def peaks(quick: bool) -> dict[str, dict[str, Any]]:
    """The torch.mm peak of each precision: the machine's best case for a dense matmul."""
    n, reps = (512, 10) if quick else (4096, 5)
    return {name: matmul_peak(dtype, n=n, reps=reps) for name, dtype in DTYPES.items()}


def markdown(results: dict[str, Any]) -> str:
    lines = ["# aiayn and its peers", ""]
    for name, section in results["sections"].items():
        m = section["machine"]
        p = section["matmul_peaks"]
        lines += [
            f"## {name}",
            "",
            f"`{section['command']}`",
            "",
            f"{m['cpu_model']} ({', '.join(m['cpu_matmul_flags'])}; torch capability "
            f"{m['torch_cpu_capability']}), {m['logical_cpus']} logical CPUs, "
            f"{m['physical_cores']} physical cores, {m['torch_threads']} torch threads; "
            f"torch {m['torch']}, transformers {m['transformers']}, Python {m['python']}. "
            f"Load average (1, 5, 15 min) {section['load_average_before']} before, "
            f"{section['load_average_after']} after. torch.mm peak "
            f"(n = {p['start']['fp32']['n']}, start / end): fp32 "
            f"{p['start']['fp32']['flops_per_second'] / 1e9:.0f} / "
            f"{p['end']['fp32']['flops_per_second'] / 1e9:.0f} GFLOP/s, bf16 "
            f"{p['start']['bf16']['flops_per_second'] / 1e9:.0f} / "
            f"{p['end']['bf16']['flops_per_second'] / 1e9:.0f} GFLOP/s. "
            f"{section['seconds']:.0f} s in all.",
            "",
            *section["markdown"],
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), metavar="SECTION")
    parser.add_argument("--quick", action="store_true", help="a smoke run of seconds, tiny sizes")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--warmup", type=int, default=None, help="untimed rounds (default 2)")
    parser.add_argument("--reps", type=int, default=None, help="timed rounds (default 7)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--beam-run", default=str(ROOT / "runs" / "multi30k"))
    parser.add_argument("--child", help=argparse.SUPPRESS)  # a memory child: its spec as JSON
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child, CHILDREN)
    torch.set_num_threads(args.threads)
    command = shlex.join(["python", *sys.argv])
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    reps = args.reps if args.reps is not None else (2 if args.quick else 7)
    stem = "peers-quick" if args.quick else "peers"
    json_path = args.out / f"{stem}.json"
    results: dict[str, Any] = {"sections": {}}
    if args.only and json_path.exists():
        results = json.loads(json_path.read_text())
    child_argv = [sys.executable, str(Path(__file__).resolve()), "--child"]
    for name in args.only or SECTIONS:
        started = time.perf_counter()
        load_before = os.getloadavg()
        start_peaks = peaks(args.quick)
        ctx = Context(
            quick=args.quick,
            warmup=warmup,
            reps=reps,
            threads=args.threads,
            peaks={k: v["flops_per_second"] for k, v in start_peaks.items()},
            child_argv=child_argv,
            beam_run=args.beam_run,
        )
        record, lines = SECTIONS[name](ctx)
        results["sections"][name] = {
            "command": command,
            "machine": machine(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "matmul_peaks": {"start": start_peaks, "end": peaks(args.quick)},
            "warmup": warmup,
            "reps": reps,
            "seconds": time.perf_counter() - started,
            "record": record,
            "markdown": lines,
        }
    args.out.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (args.out / f"{stem}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
