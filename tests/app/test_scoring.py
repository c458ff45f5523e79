"""Any file in the task's layout scored without retraining: summaries against one or several
reference fields, translations from a TSV or two files, classifications from a labelled file."""

from __future__ import annotations

import json

import pytest
import torch

from aiayn.app.scoring import evaluate_file
from aiayn.app.use import open_run, summarize_lines
from aiayn.errors import AiaynError


def test_summaries_are_scored_against_the_reference_fields_asked_for(text_runs):
    run = open_run(text_runs / "summarization", device="cpu")
    val = text_runs / "data" / "val.jsonl"
    one = evaluate_file(run, val)
    assert one["examples"] == 8 and one["references"] == ["summary"]
    assert 0 <= one["rouge_l"] <= 100
    two = evaluate_file(run, val, ref_fields=["summary", "alt"])
    records = [json.loads(line) for line in val.read_text(encoding="utf-8").splitlines()]
    outputs = summarize_lines(run, [r["document"] for r in records])
    both = run.task.score(outputs, [[r["summary"], r["alt"]] for r in records])
    assert two == {"file": str(val), "examples": 8, **both, "references": ["summary", "alt"]}
    with pytest.raises(AiaynError, match="nope"):
        evaluate_file(run, val, ref_fields=["nope"])


def test_translations_from_a_tsv_or_two_files_give_the_same_figures(text_runs, tmp_path):
    run = open_run(text_runs / "translation", device="cpu")
    data = text_runs / "data"
    two = evaluate_file(run, data / "val.de", ref_file=data / "val.en")
    src = (data / "val.de").read_text().splitlines()
    ref = (data / "val.en").read_text().splitlines()
    tsv = tmp_path / "val.tsv"
    tsv.write_text("".join(f"{s}\t{r}\n" for s, r in zip(src, ref, strict=True)))
    one = evaluate_file(run, tsv)
    assert one["bleu"] == two["bleu"] and one["examples"] == two["examples"] == 8
    with pytest.raises(AiaynError, match="is not 'source<TAB>reference'"):
        evaluate_file(run, data / "val.de")


def test_a_classifier_scores_a_labelled_file(sst2_run, tmp_path):
    run = open_run(sst2_run.run_dir, device="cpu")
    path = tmp_path / "dev.tsv"
    path.write_text("sentence\tlabel\na fine , witty movie .\t1\ndull and boring\t0\n")
    figures = evaluate_file(run, path)
    assert figures["examples"] == 2 and 0 <= figures["file_accuracy"] <= 1
    probs = run.task.probabilities(
        run.model, run.task.encode(["a fine , witty movie .", "dull and boring"])
    )
    expected = run.task.score(probs, torch.tensor([1, 0]), "file")
    assert figures["file_loss"] == expected["file_loss"]
    path.write_text("a fine movie\t1\n")
    with pytest.raises(AiaynError, match="expected the header"):
        evaluate_file(run, path)


def test_what_cannot_be_scored_from_a_file_is_refused(toy_runs, text_runs, tmp_path):
    reverse = open_run(toy_runs / "reverse", device="cpu")
    (tmp_path / "f.txt").write_text("1 2\n")
    with pytest.raises(AiaynError, match="scores translation, summarisation and classification"):
        evaluate_file(reverse, tmp_path / "f.txt")
    with pytest.raises(AiaynError, match="no file"):
        evaluate_file(reverse, tmp_path / "none.txt")
    translation = open_run(text_runs / "translation", device="cpu")
    with pytest.raises(AiaynError, match="--ref-field names reference fields of a summarisation"):
        evaluate_file(translation, tmp_path / "f.txt", ref_fields=["x"])
