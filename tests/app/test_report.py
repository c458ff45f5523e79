"""A run's report: its config, metrics, summary, sample outputs and attention, in one file."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from aiayn.app.report import read_metrics, report_data, samples, write_report
from aiayn.app.use import open_run
from aiayn.errors import AiaynError


def _embedded(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="aiayn-data">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


def test_metrics_keep_records_with_a_step_and_skip_the_rest(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "train_loss": 2.0}\nnot json\n{"x": 1}\n{"step": true}\n')
    assert read_metrics(path) == [{"step": 1, "train_loss": 2.0}]
    assert read_metrics(tmp_path / "none.jsonl") == []


def test_the_report_of_an_encoder_decoder_run(toy_runs, tmp_path):
    run_dir = shutil.copytree(toy_runs / "reverse", tmp_path / "reverse")
    run = open_run(run_dir, device="cpu")
    out = write_report(run, samples=3)
    assert out == run_dir / "report.html"
    data = _embedded(out.read_text(encoding="utf-8"))
    assert data["config"][0]["name"] == "run" and ["task", "reverse"] in data["config"][0]["rows"]
    assert [c["title"] for c in data["curves"]][:2] == ["loss", "learning rate"]
    assert any(row[0] == "parameters" for row in data["summary"])
    assert len(data["samples"]) == 3
    first = data["samples"][0]
    assert first["reference"] == " ".join(first["input"].split()[::-1])
    assert [v["title"].split(":")[0] for v in data["attention"]] == [
        "encoder-decoder attention",
        "encoder self-attention",
        "decoder masked self-attention",
    ]
    page = out.read_text(encoding="utf-8")
    assert "<script src" not in page and "<link" not in page and "connect-src &#x27;none" in page


def test_samples_of_each_kind_of_run(toy_runs, text_runs, sst2_run):
    lm = samples(open_run(toy_runs / "reverse-lm", device="cpu"), 2)
    assert len(lm) == 2 and lm[0]["output"].startswith(lm[0]["input"])
    summary = samples(open_run(text_runs / "summarization", device="cpu"), 2)
    assert len(summary) == 2 and all(isinstance(s["reference"], str) for s in summary)
    chars = samples(open_run(text_runs / "char-lm", device="cpu"), 2)
    assert len(chars) == 2 and all(s["reference"] is None for s in chars)
    classified = samples(open_run(sst2_run.run_dir, device="cpu"), 2)
    assert [s["output"].split()[0] in ("negative", "positive") for s in classified] == [True] * 2


def test_the_explorer_reads_the_given_text_and_a_bad_count_is_refused(toy_runs, tmp_path):
    run = open_run(toy_runs / "reverse-lm", device="cpu")
    data = report_data(run, n_samples=0, text="1 2 3")
    assert data.samples == [] and data.attention[0].key_tokens == ["1", "2", "3"]
    with pytest.raises(AiaynError, match="--samples must be >= 0"):
        write_report(run, tmp_path / "r.html", samples=-1)
