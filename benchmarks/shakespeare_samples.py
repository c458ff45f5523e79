"""What a trained `aiayn train shakespeare` run has learnt: figures, where the loss goes, samples.

    python benchmarks/shakespeare_samples.py RUN [--tag TAG] [--seeds 1 2 3]

Records into benchmarks/results/shakespeare-samples[-TAG].json and .md:
- the run's summary (perplexities against the unigram and untrained baselines, steps, time);
- for a word-level run, the validation loss split between the two kinds of token that
  re.split(r"\\b", ...) makes: words, and the spaces and punctuation between them (the second kind
  is easy to predict, so the per-token perplexity alone flatters the model);
- samples printed by `aiayn generate` for fixed prompts and seeds, with the exact commands.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ("Romeo.", "To be, or not to be", "The king", "HAMLET.")
SAMPLING = ["--max-new-tokens", "200", "--temperature", "0.8", "--top-k", "50"]


def word_and_separator_loss(run_dir: Path) -> dict[str, float] | None:
    """Mean validation NLL (nats) over word targets and over the rest, for a word-level run."""
    from aiayn.data.lm import lm_blocks
    from aiayn.tasks import load_run

    run = load_run(run_dir, device=torch.device("cpu"))
    if run.task.opts["tokenizer"] != "word":
        return None
    model, ids = run.model.eval(), run.task.split_ids("val")
    inputs, targets = lm_blocks(ids, run.task.opts["context"])  # (n, L) each
    # A word piece starts with a word character; <unk> stands for rare words.
    is_word = torch.tensor(
        [bool(re.match(r"\w", t)) or t == "<unk>" for t in run.task.tokenizer.tokens]
    )
    nll = torch.empty(targets.shape)
    with torch.no_grad():
        for i in range(0, inputs.size(0), 64):
            logits = model(inputs[i : i + 64]).float()  # (b, L, V)
            nll[i : i + 64] = nn.functional.cross_entropy(
                logits.transpose(1, 2), targets[i : i + 64], reduction="none"
            )
    word = is_word[targets]
    return {
        "val_loss": nll.mean().item(),
        "word_loss": nll[word].mean().item(),
        "word_perplexity": nll[word].mean().exp().item(),
        "word_fraction": word.float().mean().item(),
        "separator_loss": nll[~word].mean().item(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--tag", default="")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    summary = json.loads((args.run / "summary.json").read_text())
    samples = []
    for prompt in PROMPTS:
        for seed in args.seeds:
            argv = ["aiayn", "generate", str(args.run), "--prompt", prompt, *SAMPLING]
            argv += ["--seed", str(seed), "--device", "cpu"]
            done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
            if done.returncode != 0:
                sys.exit(f"failed: {shlex.join(argv)}\n{done.stderr[-2000:]}")
            samples.append({"command": shlex.join(argv), "text": done.stdout})
    record = {
        "command": shlex.join(["python", *sys.argv]),
        "run": str(args.run),
        "summary": summary,
        "loss_by_kind": word_and_separator_loss(args.run),
        "samples": samples,
    }
    name = "shakespeare-samples" + (f"-{args.tag}" if args.tag else "")
    out = ROOT / "benchmarks" / "results"
    (out / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [f"# {name}", "", f"`{record['command']}`", "", "| figure | value |", "|---|---|"]
    for key in (
        "val_perplexity",
        "test_perplexity",
        "unigram_val_perplexity",
        "untrained_val_perplexity",
        "steps",
        "seconds",
        "parameters",
        "vocab_size",
    ):
        if key in summary:
            lines.append(f"| {key} | {summary[key]:.6g} |")
    for key, value in (record["loss_by_kind"] or {}).items():
        lines.append(f"| {key} | {value:.4g} |")
    for sample in samples:
        lines += ["", f"`{sample['command']}`", "", "```", sample["text"].rstrip(), "```"]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
