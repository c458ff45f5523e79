"""DialogSum: train with the documented command, then record ROUGE beside the extractive floors.

    python benchmarks/dialogsum.py --out runs/dialogsum-bench [--data-dir DIR] [--set KEY=VALUE ...]
    python benchmarks/dialogsum.py --run runs/dialogsum      # score an existing run, no training

Records into benchmarks/results/dialogsum[-TAG].json and .md: the exact training command, the
machine and its load average, wall-clock, steps, parameters, and dev ROUGE beside the extractive
floors: the run's own summary.json (greedy and beam, in the training precision), then beam
decoding in fp32 of the final weights and of the average of the last N checkpoints (`aiayn
average`), each scored twice:
- by aiayn's scorer (rouge-score, Porter stemmer: ROUGE-1/2/L/Lsum);
- by py-rouge, the scorer the DialogSum paper used (Chen et al. 2021, following Gliwa et al.
  2019), with its README's settings (ROUGE-N up to 2 and ROUGE-L, the first 100 words, average
  F, Porter stemmer) and the texts fed as they are, without newlines between sentences. Its
  ROUGE-L is the summary-level one, and its figures are the ones to compare with the paper's.
  Summary-level ROUGE-L depends on where the sentences break (py-rouge splits at newlines), and
  the paper does not say how it split them, so it is also given with every text, the model's,
  the references and the floors alike, one sentence a line, split as aiayn's ROUGE-Lsum splits
  them (`aiayn.evaluation.rouge.split_sentences`).
  py-rouge tokenizes with NLTK's word_tokenize, whose model is a download; on text it has already
  reduced to lowercase letters, digits and spaces that tokenizer splits at the spaces, so a
  whitespace split stands in for it here. `pip install py-rouge` (optional: without it those
  columns are left out).
The dev summaries are written into the run directory (val_summaries.txt) and the curve of
validation loss and greedy ROUGE-L during training is kept in the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from multi30k import run_command  # the same way of running a step of the benchmark

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("rouge_1", "rouge_2", "rouge_l", "rouge_lsum")
PY_KEYS = ("rouge-1", "rouge-2", "rouge-l", "rouge-l-lines")
# the recipe's settings recorded with the figure
TRAIN_KEYS = (
    "batch_tokens",
    "lr",
    "lr_schedule",
    "cosine_over",
    "min_lr",
    "warmup_steps",
    "max_steps",
    "max_minutes",
    "label_smoothing",
)


def py_rouge(hypotheses: list[str], references: list[list[str]]) -> dict[str, float] | None:
    """F x 100 of py-rouge as the DialogSum paper used it, or None when it is not installed."""
    try:
        from rouge import Rouge
    except ModuleNotFoundError:
        return None
    from aiayn.evaluation.rouge import split_sentences

    Rouge.tokenize_text = staticmethod(lambda text, language="english": text.split())
    scorer = Rouge(
        metrics=["rouge-n", "rouge-l"], max_n=2, limit_length=True, length_limit=100,
        length_limit_type="words", apply_avg=True, alpha=0.5, stemming=True,
    )  # fmt: skip

    def one_a_line(text: str) -> str:
        return "\n".join(split_sentences(text))

    def refs(split):  # py-rouge takes a list for several references, a string for one
        return [[split(t) for t in r] if len(r) > 1 else split(r[0]) for r in references]

    scores = scorer.get_scores(hypotheses, refs(lambda t: t))
    lines = scorer.get_scores([one_a_line(h) for h in hypotheses], refs(one_a_line))
    return {
        **{k: 100 * scores[k]["f"] for k in ("rouge-1", "rouge-2", "rouge-l")},
        "rouge-l-lines": 100 * lines["rouge-l"]["f"],
    }


def decode_and_score(run_dir: str, checkpoint: str, data_dir: str | None) -> dict:
    """Beam-decode the dev set with `checkpoint` in fp32; both scorers; the summaries."""
    from aiayn.app.use import open_run

    run = open_run(Path(run_dir), checkpoint=checkpoint, data_dir=data_dir and Path(data_dir))
    task = run.task
    sources, references = task.examples("val")
    hypotheses = task.translate(run.model, sources, task.search_options())
    scores = task.score(hypotheses, references)
    return {
        "rouge_score": {k: scores[k] for k in KEYS},
        "py_rouge": py_rouge(hypotheses, references),
        "hypotheses": hypotheses,
    }


def _row(name: str, s: dict, py: dict | None) -> str:
    cells = [f"{s[k]:.2f}" for k in KEYS] + [f"{py[k]:.2f}" if py else "" for k in PY_KEYS]
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/dialogsum-bench", help="run directory (must not exist)")
    p.add_argument("--run", help="score this existing run instead of training one")
    p.add_argument("--data-dir", help="folder holding dialogsum/ (else AIAYN_DATA_DIR or cache)")
    p.add_argument("--set", action="append", default=[], help="passed to `aiayn train`")
    p.add_argument("--max-minutes", type=float, help="passed to `aiayn train`")
    p.add_argument("--average-last", type=int, default=5, help="checkpoints to average")
    p.add_argument("--tag", default="", help="suffix of the result files")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results"), help="their folder")
    args = p.parse_args()

    aiayn = [sys.executable, "-m", "aiayn"]
    data = ["--data-dir", args.data_dir] if args.data_dir else []
    load_before = os.getloadavg()
    commit = subprocess.run(  # the code that trains, read before training starts
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    run = args.run or args.out
    train = [*aiayn, "train", "dialogsum", "--out", run, *data]
    if args.max_minutes is not None:
        train += ["--max-minutes", str(args.max_minutes)]
    train += [x for s in args.set for x in ("--set", s)]
    wall = None
    if args.run is None:
        _, wall = run_command(train)
    load_after_training = os.getloadavg()

    out = ROOT / run
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]

    decoded = {"final": decode_and_score(run, "final", args.data_dir)}
    checkpoints = sorted((out / "checkpoints").glob("step-*"))
    n_avg = min(args.average_last, len(checkpoints))
    if n_avg >= 2:
        run_command([*aiayn, "average", run, "--last", str(n_avg)])
        decoded[f"averaged last {n_avg}"] = decode_and_score(run, "averaged", args.data_dir)
    best = max(decoded, key=lambda k: decoded[k]["rouge_score"]["rouge_1"])
    (out / "val_summaries.txt").write_text(
        "\n".join(decoded[best]["hypotheses"]) + "\n", encoding="utf-8"
    )
    from aiayn.tasks import get_task

    task = get_task("dialogsum", data_dir=args.data_dir and Path(args.data_dir))
    val_refs = task.examples("val")[1]
    floors = {n: py_rouge(h, val_refs) for n, h in task.baselines("val").items()}

    result = {
        "command": shlex.join(["aiayn", *train[3:]]) if args.run is None else None,
        "commit": commit,
        "allocator": summary.get("allocator"),
        "scored_run": run,
        "wall_clock_seconds": None if wall is None else round(wall, 1),
        "load_average_before": load_before,
        "load_average_after_training": load_after_training,
        "cpu_cores": os.cpu_count(),
        "train_seconds": summary["seconds"],
        "steps": summary["steps"],
        "stopped": summary["stopped"],
        "parameters": summary["parameters"],
        "precision": config["train"]["precision"],
        "model": {k: config["model"][k] for k in ("d_model", "n_heads", "d_ff", "n_layers")},
        "train": {k: config["train"][k] for k in TRAIN_KEYS},
        "p_drop": config["model"]["p_drop"],
        "search": summary["search"],
        "val_truncated_sources": summary.get("val_truncated_sources"),
        "val_in_training_precision": {
            "greedy": {k: summary["val_greedy"][k] for k in KEYS},
            "beam": {k: summary["val_beam"][k] for k in KEYS},
        },
        "val_beam_fp32": {
            name: {"rouge_score": d["rouge_score"], "py_rouge": d["py_rouge"]}
            for name, d in decoded.items()
        },
        "summaries_written_from": best,
        "val_floors": {
            n: {"rouge_score": {k: f[k] for k in KEYS}, "py_rouge": floors[n]}
            for n, f in summary["val_baselines"].items()
        },
        "curve": [
            {
                k: v
                for k, v in m.items()
                if k in ("step", "wall_seconds", "val_loss") or "rouge" in k
            }
            for m in metrics
            if "val_loss" in m
        ],
    }
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    stem = "dialogsum" + (f"-{args.tag}" if args.tag else "")
    (results / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    s = result["search"]
    lines = [
        f"# DialogSum dev{f' ({args.tag})' if args.tag else ''}",
        "",
        f"Command: `{result['command'] or 'scored an existing run: ' + run}`",
        "",
        f"{result['steps']} steps in {result['train_seconds'] / 60:.1f} min of training "
        f"({result['stopped']}), {result['precision']}, {result['parameters']:,} parameters, "
        f"commit {commit}, allocator {result['allocator']}; "
        f"{os.cpu_count()} cores, load average {load_before[0]:.2f} before and "
        f"{load_after_training[0]:.2f} after training. Beam {s['beam_size']}, length penalty "
        f"{s['alpha']}, min_len {s['min_len']}, max_len {s['max_len']}, no_repeat_ngram "
        f"{s['no_repeat_ngram']}. ROUGE F x 100 on the 500 dev dialogues, one reference each: "
        "rouge-score (aiayn's scorer) and py-rouge (the DialogSum paper's; its ROUGE-L is "
        "summary-level: texts as they are, and every text one sentence a line). Beam decoding "
        "in fp32.",
        "",
        "| decoding | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum | py-rouge R-1 | py-rouge R-2 | "
        "py-rouge R-L | py-rouge R-L, a sentence a line |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            _row(f"beam, {name} weights", d["rouge_score"], d["py_rouge"])
            for name, d in result["val_beam_fp32"].items()
        ),
        *(
            _row(f"floor: {name}", f["rouge_score"], f["py_rouge"])
            for name, f in result["val_floors"].items()
        ),
        "",
        "In the training precision, as the run's summary.json has them: "
        + "; ".join(
            f"{kind} " + "/".join(f"{sc[k]:.2f}" for k in KEYS)
            for kind, sc in result["val_in_training_precision"].items()
        )
        + " (ROUGE-1/2/L/Lsum).",
        "",
    ]
    (results / f"{stem}.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
