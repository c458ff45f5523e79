"""A run's report: its config, curves, figures, sample outputs and attention, as one HTML file.

`report_data(run)` reads what the run directory holds (config.json, metrics.jsonl, summary.json)
and asks the model for a few validation outputs and for the attention of one input;
`write_report` renders it with aiayn.web.report into a file that opens with no network.
Samples need the run's data (for a data set, its local copy): without it the report has none.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from aiayn.app.attention import attention_views
from aiayn.app.runs import Run, read_run_config
from aiayn.app.use import classify_lines, generate_text, summarize_lines, translate_lines
from aiayn.decoding import SamplingOptions, SearchOptions
from aiayn.errors import AiaynError
from aiayn.tasks import Classifies, DrawsAttention, Generates, Summarizes, Translates
from aiayn.tasks.classification import ClassificationTask
from aiayn.tasks.language_model import ShakespeareTask
from aiayn.tasks.seq2seq import TextToTextTask
from aiayn.tasks.toy import CopyTask, ReverseLMTask, ReverseTask
from aiayn.training.checkpoint import atomic_write_text
from aiayn.web import ReportData, render_report

log = logging.getLogger(__name__)

ATTENTION_WORDS = 40  # the explorer's input is cut to this many words: every weight is in the page
PROMPT_CHARS = 40  # a language model's sample prompts: this much of the validation text
GREEDY_TEXT = SamplingOptions(max_new_tokens=60, temperature=0.0)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl with an int "step"; other lines are skipped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        step = record.get("step") if isinstance(record, dict) else None
        if isinstance(step, int) and not isinstance(step, bool):
            records.append(record)
    return records


def _inputs(run: Run, n: int) -> list[tuple[str, str | None]]:
    """(input, reference or None) of the first `n` validation examples."""
    task = run.task
    if isinstance(task, TextToTextTask):
        sources, references = task.examples("val")
        return [(s, refs[0]) for s, refs in zip(sources[:n], references[:n], strict=True)]
    if isinstance(task, CopyTask | ReverseTask):
        texts = task.texts("val")[:n]
        step = -1 if isinstance(task, ReverseTask) else 1
        return [(t, " ".join(t.split()[::step])) for t in texts]
    if isinstance(task, ReverseLMTask):
        return [(t, None) for t in task.texts("val")[:n]]
    if isinstance(task, ShakespeareTask):
        text = task.split_texts()["val"]
        chars = min(PROMPT_CHARS, run.model_config.max_len // 2)  # a token has >= 1 character
        step = max(len(text) // max(n, 1), chars)
        prompts = [text[i : i + chars] for i in range(0, len(text), step)][:n]
        return [(p.strip() or p, None) for p in prompts if p.strip()]
    if isinstance(task, ClassificationTask):
        return list(task.raw(task.held_out("val"))[:n])
    return []


def samples(run: Run, n: int) -> list[dict[str, Any]]:
    """Up to `n` validation inputs, the model's outputs and the references (when known)."""
    try:
        inputs = _inputs(run, n)
    except (AiaynError, FileNotFoundError, OSError) as e:
        log.warning("no samples in the report: %s", e)
        return []
    texts = [text for text, _ in inputs]
    task = run.task
    with torch.no_grad():
        if isinstance(task, Summarizes):
            outputs = summarize_lines(run, texts)
        elif isinstance(task, TextToTextTask):
            outputs = translate_lines(run, texts, task.search_options())
        elif isinstance(task, Translates):
            outputs = translate_lines(run, texts, SearchOptions())
        elif isinstance(task, Classifies):
            outputs = [f"{label} ({p:.3f})" for label, p in classify_lines(run, texts)]
        elif isinstance(task, Generates):
            outputs = [generate_text(run, t, GREEDY_TEXT) for t in texts]
        else:
            return []
    return [
        {"input": text, "output": out, "reference": ref}
        for (text, ref), out in zip(inputs, outputs, strict=True)
    ]


def report_data(run: Run, *, n_samples: int = 5, text: str | None = None) -> ReportData:
    """What the report of `run` shows; `text` is the attention explorer's input (default: the
    shortest sample input, cut to ATTENTION_WORDS words)."""
    directory = run.directory
    summary_path = directory / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    shown = samples(run, n_samples)
    views = []
    if isinstance(run.task, DrawsAttention):
        if text is None and shown:
            text = " ".join(min((s["input"] for s in shown), key=len).split()[:ATTENTION_WORDS])
        if text:
            try:
                _, views = attention_views(run, text)
            except (AiaynError, ValueError) as e:  # a model without attention weights
                log.warning("no attention in the report: %s", e)
    return ReportData(
        title=f"{run.task.name} run {directory.name}",
        config=read_run_config(directory),
        metrics=read_metrics(directory / "metrics.jsonl"),
        summary=summary if isinstance(summary, dict) else {},
        samples=shown,
        attention=views,
    )


def write_report(
    run: Run, out: Path | None = None, *, samples: int = 5, text: str | None = None
) -> Path:
    """Write the report of `run` to `out` (default RUN/report.html); returns the path."""
    if samples < 0:
        raise AiaynError(f"--samples must be >= 0, got {samples}")
    out = Path(out) if out is not None else run.directory / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, render_report(report_data(run, n_samples=samples, text=text)))
    return out


__all__ = ["read_metrics", "report_data", "samples", "write_report"]
