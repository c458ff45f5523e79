"""The beam section of benchmarks/peers.py: beam search translation with the same weights in
aiayn and in Hugging Face's MarianMTModel.

A trained Multi30k run (`--beam-run RUN`; default runs/multi30k) translates the first 100
validation sentences with beam 4 in both, in the same batches (sorted by length, 64 at most).
Both rank hypotheses by their summed log-probabilities (aiayn alpha = 0, HF length_penalty = 0),
where both searches are exact and the outputs must agree up to ties; the maximum output length
is the source length + 50 in aiayn, and the longest source of the batch + 50 in HF. The weights
go across with aiayn.interop.hf_marian.to_marian.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import torch
from peers_common import Context, interleaved, table

from aiayn.app.runs import load_run
from aiayn.data import collate
from aiayn.decoding import SearchOptions, beam_decode
from aiayn.interop.hf_marian import to_marian
from aiayn.tokenizers import BOS_ID, EOS_ID, PAD_ID

NAME = "beam"
SENTENCES, BATCH, BEAM = 100, 64, 4


def run(ctx: Context) -> tuple[dict[str, Any], list[str]]:
    run_dir = Path(ctx.beam_run)
    if not (run_dir / "config.json").is_file():
        raise SystemExit(
            f"the beam section needs a trained Multi30k run: --beam-run RUN ({run_dir})"
        )
    loaded = load_run(run_dir, device=torch.device("cpu"))
    task, ours = loaded.task, loaded.model
    theirs = to_marian(ours, bos_id=BOS_ID, eos_id=EOS_ID).eval()
    n = 8 if ctx.quick else SENTENCES
    sources = [task.encode_source(s) for s in task.corpus("val").src[:n]]
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    batches = [[sources[i] for i in order[k : k + BATCH]] for k in range(0, len(order), BATCH)]
    tensors = [collate(b, PAD_ID) for b in batches]
    options = SearchOptions(beam_size=BEAM, alpha=0.0)
    outputs: dict[str, list[list[int]]] = {}

    def aiayn_side() -> None:
        outputs["aiayn"] = [
            h
            for src in tensors
            for h in beam_decode(ours, src, bos_id=BOS_ID, eos_id=EOS_ID, options=options)
        ]

    def hf_side() -> None:
        hyps = []
        for src in tensors:
            out = theirs.generate(
                input_ids=src, attention_mask=(src != PAD_ID).long(), num_beams=BEAM,
                length_penalty=0.0, do_sample=False, early_stopping=False,
                max_new_tokens=min(src.size(1) + 50, ours.config.max_len), num_return_sequences=1,
            )  # fmt: skip
            for row in out[:, 1:].tolist():  # the decoder start (<bos>) first
                hyps.append(
                    row[: row.index(EOS_ID)] if EOS_ID in row else [t for t in row if t != PAD_ID]
                )
        outputs["hf"] = hyps

    with torch.inference_mode():
        times = interleaved(
            {"aiayn": aiayn_side, "MarianMTModel.generate": hf_side},
            warmup=1,
            reps=max(1, ctx.reps // 2),
        )
    same = sum(a == b for a, b in zip(outputs["aiayn"], outputs["hf"], strict=True))
    median = {k: statistics.median(v) for k, v in times.items()}
    record = {
        "run": str(run_dir), "sentences": len(sources), "beam": BEAM, "alpha": 0.0,
        "median_seconds": median, "same_outputs": same,
        "aiayn_over_hf": median["MarianMTModel.generate"] / median["aiayn"],
    }  # fmt: skip
    return record, [
        f"Beam {BEAM} translation of {len(sources)} Multi30k validation sentences ({run_dir}), "
        "the same weights in both, summed log-probabilities (no length penalty).",
        "",
        *table(
            ["aiayn / HF generate", "aiayn (s)", "HF (s)", "same outputs"],
            [
                [
                    f"**{record['aiayn_over_hf']:.2f}x**",
                    f"{median['aiayn']:.2f}",
                    f"{median['MarianMTModel.generate']:.2f}",
                    f"{same}/{len(sources)}",
                ]
            ],
        ),  # fmt: skip
    ]
