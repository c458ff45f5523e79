"""The generate section of benchmarks/peers.py: a decoder-only model writing new tokens.

A 6-layer, d_model 512 language model (GPT-2's layout, so that the very same weights run in
Hugging Face's GPT2LMHeadModel: pre-norm, learned positions, tanh GELU, no embedding scale)
continues an 8-token prompt by N new tokens, greedily and for exactly N tokens, at batch 1 and 8:
- aiayn with its KV cache (`aiayn.decoding.generate`, SamplingOptions(temperature=0));
- aiayn without it (`use_cache=False`: the whole prefix recomputed at every step), batch 1;
- `GPT2LMHeadModel.generate` (do_sample=False, num_beams=1, min_new_tokens = max_new_tokens).
In fp32, then with the weights in bf16 on both sides. Both sides produce the same tokens (checked).
"""

from __future__ import annotations

import statistics
from typing import Any

import torch
from peers_common import Context, interleaved, table

from aiayn.config import ModelConfig
from aiayn.decoding import SamplingOptions, generate
from aiayn.interop.hf_gpt2 import to_gpt2
from aiayn.models import build_model

NAME = "generate"
PROMPT = 8
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def config(quick: bool) -> tuple[ModelConfig, int, tuple[int, ...]]:
    """(the model, new tokens, batch sizes)."""
    new = 16 if quick else 512
    c = ModelConfig(
        arch="decoder-only", vocab_size=8000, d_model=64 if quick else 512,
        n_heads=4 if quick else 8, d_ff=256 if quick else 2048, n_layers=2 if quick else 6,
        max_len=PROMPT + new, p_drop=0.0, norm_first=True, positional="learned",
        activation="gelu_tanh", scale_embeddings=False,
    )  # fmt: skip
    return c, new, (1, 8)


def _measure(
    ours: torch.nn.Module, theirs: torch.nn.Module, prompt: torch.Tensor, new: int, reps: int
) -> dict[str, Any]:
    """Time both sides on one prompt batch, interleaved; aiayn without the cache once at batch 1."""
    outputs: dict[str, torch.Tensor] = {}
    greedy = SamplingOptions(max_new_tokens=new, temperature=0.0)
    mask = torch.ones_like(prompt)

    def cached() -> None:
        outputs["aiayn"] = generate(ours, prompt, greedy)

    def hf() -> None:
        outputs["hf"] = theirs.generate(
            prompt, attention_mask=mask, max_new_tokens=new, min_new_tokens=new,
            do_sample=False, num_beams=1, pad_token_id=0,
        )  # fmt: skip

    def uncached() -> None:
        generate(
            ours, prompt, SamplingOptions(max_new_tokens=new, temperature=0.0, use_cache=False)
        )

    with torch.inference_mode():
        times = interleaved(
            {"aiayn (KV cache)": cached, "GPT2LMHeadModel.generate": hf}, warmup=1, reps=reps
        )
        median = {k: statistics.median(v) for k, v in times.items()}
        if prompt.size(0) == 1:  # without the cache: once (it costs O(N^2) forwards)
            median["aiayn (no cache)"] = interleaved({"u": uncached}, warmup=0, reps=1)["u"][0]
    return {
        "median_seconds": median,
        "same_tokens": bool(torch.equal(outputs["aiayn"], outputs["hf"])),
    }


def run(ctx: Context) -> tuple[dict[str, Any], list[str]]:
    c, new, batches = config(ctx.quick)
    torch.manual_seed(0)
    ours = build_model(c).eval()
    theirs = to_gpt2(ours, bos_id=None, eos_id=None).eval()
    record: dict[str, Any] = {"model_config": c.to_dict(), "new_tokens": new, "runs": []}
    for precision, dtype in DTYPES.items():
        ours, theirs = ours.to(dtype), theirs.to(dtype)
        for batch in batches:
            g = torch.Generator().manual_seed(batch)
            prompt = torch.randint(4, c.vocab_size, (batch, PROMPT), generator=g)
            entry = {"precision": precision, "batch": batch}
            entry.update(_measure(ours, theirs, prompt, new, max(1, ctx.reps // 3)))
            s = entry["median_seconds"]
            entry["cache_speedup"] = s.get("aiayn (no cache)", float("nan")) / s["aiayn (KV cache)"]
            entry["aiayn_over_hf"] = s["GPT2LMHeadModel.generate"] / s["aiayn (KV cache)"]
            entry["tokens_per_second"] = batch * new / s["aiayn (KV cache)"]
            record["runs"].append(entry)
            print(f"generate {precision} batch {batch}: {entry}", flush=True)
    return record, markdown(record)


def markdown(record: dict[str, Any]) -> list[str]:
    rows = []
    for e in record["runs"]:
        s = e["median_seconds"]
        no_cache = s.get("aiayn (no cache)")
        rows.append([
            e["precision"], e["batch"], f"**{e['aiayn_over_hf']:.2f}x**",
            "" if no_cache is None else f"**{e['cache_speedup']:.1f}x**",
            f"{s['aiayn (KV cache)']:.2f}", f"{s['GPT2LMHeadModel.generate']:.2f}",
            "" if no_cache is None else f"{no_cache:.1f}", f"{e['tokens_per_second']:,.0f}",
            "yes" if e["same_tokens"] else "NO",
        ])  # fmt: skip
    c = record["model_config"]
    return [
        f"Greedy generation of {record['new_tokens']} new tokens after an {PROMPT}-token prompt, "
        f"decoder-only model, {c['n_layers']} layers, d_model {c['d_model']}, the same weights in "
        "both (GPT-2's layout). Seconds are medians; ratios above 1 mean aiayn is faster.",
        "",
        *table(
            [
                "precision",
                "batch",
                "aiayn / HF generate",
                "KV cache / no cache",
                "aiayn (s)",
                "HF (s)",
                "aiayn no cache (s)",
                "aiayn tok/s",
                "same tokens",
            ],
            rows,
        ),  # fmt: skip
    ]
