"""What a from-scratch SST-2 classifier is up against: a lexical baseline, and how its errors
compare with those of other from-scratch models.

1. Naive Bayes over the set of words (and of word bigrams) of a sentence, add-one smoothing,
   trained on all 67,349 GLUE SST-2 training phrases, scored on the 872 dev sentences. Socher et
   al. (2013) report 81.8% (NB) and 83.1% (bigram NB) for these models on the SST *test* set,
   trained on the same phrases; the dev figure here says how hard the dev set is.
2. With `--runs RUN ...` (from-scratch `aiayn train sst2` runs), each run's dev accuracy, the
   accuracy of their average-probability ensemble, and how many dev sentences every run gets
   wrong, and of those how many Naive Bayes gets wrong too. If the ensemble gains nothing, the
   runs' errors are the same errors: a matter of what the training data teaches, not of noise.

    python benchmarks/sst2_baselines.py --data-dir ../shared/data --runs runs/a runs/b

Writes benchmarks/results/sst2-baselines.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections import Counter
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def features(sentence: str, bigrams: bool) -> set[str]:
    words = sentence.split()
    found = set(words)
    if bigrams:
        found |= {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
    return found


def naive_bayes(
    train: list[tuple[str, int]], dev: list[tuple[str, int]], bigrams: bool
) -> list[bool]:
    """Whether Bernoulli-style (binarized) multinomial Naive Bayes gets each dev sentence right."""
    counts: list[Counter[str]] = [Counter(), Counter()]
    docs = [0, 0]
    for sentence, label in train:
        docs[label] += 1
        counts[label].update(features(sentence, bigrams))
    vocab = set(counts[0]) | set(counts[1])
    totals = [sum(c.values()) + len(vocab) for c in counts]  # add-one smoothing

    def log_odds(sentence: str) -> float:
        score = math.log(docs[1] / docs[0])
        for f in features(sentence, bigrams) & vocab:
            score += math.log((counts[1][f] + 1) / totals[1])
            score -= math.log((counts[0][f] + 1) / totals[0])
        return score

    return [(log_odds(s) > 0) == (label == 1) for s, label in dev]


def run_probabilities(
    run_dirs: list[str], sentences: list[str], data_dir: Path | None
) -> dict[str, torch.Tensor]:
    """Each run's (N, 2) class probabilities of the N sentences, by run directory."""
    from aiayn.tasks import load_run

    out = {}
    for run_dir in run_dirs:
        run = load_run(Path(run_dir), device=torch.device("cpu"), data_dir=data_dir)
        run.model.eval()
        out[run_dir] = run.task.probabilities(run.model, run.task.encode(sentences))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, help="folder holding sst2/train.tsv and dev.tsv")
    p.add_argument("--runs", nargs="*", default=[], help="from-scratch run directories")
    args = p.parse_args()

    from aiayn.data.sst2 import sst2

    train, dev = sst2("train", args.data_dir), sst2("dev", args.data_dir)
    labels = [label for _, label in dev]
    nb = {
        name: naive_bayes(train, dev, bigrams) for name, bigrams in (("nb", False), ("bi_nb", True))
    }
    result: dict = {
        "command": shlex.join(["python", *sys.argv]),
        "train_phrases": len(train),
        "dev_sentences": len(dev),
        "naive_bayes_dev_accuracy": sum(nb["nb"]) / len(dev),
        "bigram_naive_bayes_dev_accuracy": sum(nb["bi_nb"]) / len(dev),
    }
    if args.runs:
        probs = run_probabilities(args.runs, [s for s, _ in dev], args.data_dir)
        gold = torch.tensor(labels)
        right = {run: p.argmax(-1) == gold for run, p in probs.items()}
        ensemble = torch.stack(list(probs.values())).mean(0).argmax(-1) == gold
        all_wrong = ~torch.stack(list(right.values())).any(0)
        result["runs"] = {run: int(r.sum()) / len(dev) for run, r in right.items()}
        result["ensemble_dev_accuracy"] = int(ensemble.sum()) / len(dev)
        result["wrong_in_every_run"] = int(all_wrong.sum())
        result["of_those_naive_bayes_also_wrong"] = int((all_wrong & ~torch.tensor(nb["nb"])).sum())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sst2-baselines.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# SST-2 dev: lexical baselines and the errors of from-scratch runs",
        "",
        f"`{result['command']}`",
        "",
        "| model | dev accuracy |",
        "|---|---|",
        f"| Naive Bayes, words | {result['naive_bayes_dev_accuracy']:.2%} |",
        f"| Naive Bayes, words and bigrams | {result['bigram_naive_bayes_dev_accuracy']:.2%} |",
    ]
    for run, acc in result.get("runs", {}).items():
        lines.append(f"| `{run}` | {acc:.2%} |")
    if args.runs:
        lines += [
            f"| ensemble of the {len(args.runs)} runs (mean probability) "
            f"| {result['ensemble_dev_accuracy']:.2%} |",
            "",
            f"Dev sentences every run gets wrong: {result['wrong_in_every_run']}; of those, "
            f"Naive Bayes (words) also gets {result['of_those_naive_bayes_also_wrong']} wrong.",
        ]
    (RESULTS / "sst2-baselines.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
