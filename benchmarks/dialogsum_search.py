"""Beam-search settings for a trained summariser, chosen on one half of the dev set and checked
on the other: the length penalty and the minimum summary length.

    python benchmarks/dialogsum_search.py RUN [--checkpoint final|averaged] [--data-dir DIR]

Each (alpha, min_len) pair in the grid decodes the first half of the dev dialogues with the
run's beam size, no_repeat_ngram and max_len, and is scored with aiayn's scorer (rouge-score);
the pair with the best mean of ROUGE-1, ROUGE-2 and ROUGE-L is then scored on the second half,
beside the run's own settings, so that the gain is measured on dialogues the choice never saw.
Writes benchmarks/results/dialogsum-search.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from aiayn.app.use import open_run

ROOT = Path(__file__).resolve().parents[1]
ALPHAS = (0.6, 1.0, 1.5)
MIN_LENS = (0, 10, 16)
KEYS = ("rouge_1", "rouge_2", "rouge_l")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--checkpoint", default="final")
    p.add_argument("--data-dir")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args()
    load_before = os.getloadavg()
    run = open_run(Path(args.run), checkpoint=args.checkpoint,
                   data_dir=args.data_dir and Path(args.data_dir))  # fmt: skip
    task = run.task
    sources, references = task.examples("val")
    half = len(sources) // 2
    base = task.search_options()

    def score(options, lo: int, hi: int) -> dict:
        hyps = task.translate(run.model, sources[lo:hi], options)
        s = task.score(hyps, references[lo:hi])
        words = sum(len(h.split()) for h in hyps) / max(len(hyps), 1)
        return {**{k: s[k] for k in KEYS}, "mean_words": words}

    grid = []
    for alpha in ALPHAS:
        for min_len in MIN_LENS:
            options = dataclasses.replace(base, alpha=alpha, min_len=min_len)
            grid.append({"alpha": alpha, "min_len": min_len, **score(options, 0, half)})
            print(grid[-1], flush=True)
    best = max(grid, key=lambda g: sum(g[k] for k in KEYS))
    chosen = dataclasses.replace(base, alpha=best["alpha"], min_len=best["min_len"])
    held_out = {"run's settings": score(base, half, len(sources)),
                "chosen on the first half": score(chosen, half, len(sources))}  # fmt: skip
    reference_words = sum(len(r[0].split()) for r in references) / len(references)
    record = {
        "command": "python benchmarks/dialogsum_search.py " + " ".join(sys.argv[1:]),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "run_settings": dataclasses.asdict(base),
        "grid_on_first_half": grid,
        "chosen": {"alpha": best["alpha"], "min_len": best["min_len"]},
        "second_half": held_out,
        "reference_mean_words": reference_words,
    }
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "dialogsum-search.json").write_text(json.dumps(record, indent=1) + "\n")
    lines = [
        "# DialogSum: the length penalty and minimum length, chosen on half of dev",
        "",
        f"`{record['command']}`",
        "",
        f"Beam {base.beam_size}, no_repeat_ngram {base.no_repeat_ngram}, max_len {base.max_len}; "
        f"ROUGE F x 100 (rouge-score, stemmed). Dev dialogues 1-{half} choose, {half + 1}-"
        f"{len(sources)} check. References average {reference_words:.1f} words. Load average "
        f"{load_before[0]:.2f} before.",
        "",
        "| alpha | min_len | ROUGE-1 | ROUGE-2 | ROUGE-L | words per summary |",
        "|---|---|---|---|---|---|",
        *(
            f"| {g['alpha']} | {g['min_len']} | {g['rouge_1']:.2f} | {g['rouge_2']:.2f} | "
            f"{g['rouge_l']:.2f} | {g['mean_words']:.1f} |"
            for g in grid
        ),  # fmt: skip
        "",
        "On the second half:",
        "",
        "| settings | ROUGE-1 | ROUGE-2 | ROUGE-L | words per summary |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {s['rouge_1']:.2f} | {s['rouge_2']:.2f} | {s['rouge_l']:.2f} | "
            f"{s['mean_words']:.1f} |"
            for name, s in held_out.items()
        ),  # fmt: skip
        "",
    ]
    (out / "dialogsum-search.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
