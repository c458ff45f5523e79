"""A trained run scored on any file of examples in its task's layout, without retraining.

- summarisation: JSON lines, CSV or TSV with the task's source field and one or more reference
  fields (`ref_fields`, default the task's target fields; e.g. DialogSum's test file with
  summary1, summary2, summary3), scored with the task's ROUGE over all references;
- translation: a TSV (source, tab, reference) or two aligned files (`path` the sources,
  `ref_file` the references), scored with sacreBLEU and chrF;
- classification: JSON lines, CSV or TSV with the task's text and label fields (SST-2: GLUE's
  TSV, `sentence<TAB>label` under a header).

The outputs are decoded with the run's own search options, as `aiayn eval` on a split does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from aiayn.app.runs import Run
from aiayn.data.files import read_lines
from aiayn.data.parallel import read_parallel
from aiayn.data.records import read_records
from aiayn.data.sst2 import read_sst2
from aiayn.errors import AiaynError
from aiayn.tasks.classification import ClassificationTask
from aiayn.tasks.sst2 import SST2Task
from aiayn.tasks.summarization import SummarizationTask
from aiayn.tasks.translation import TranslationTask


def _translation_examples(path: Path, ref_file: Path | None) -> tuple[list[str], list[list[str]]]:
    if ref_file is not None:
        corpus = read_parallel(path, ref_file)
        return corpus.src, [[t] for t in corpus.tgt]
    sources, references = [], []
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) < 2 or not columns[1].strip():
            raise AiaynError(
                f"{path} line {number} is not 'source<TAB>reference': give a TSV, or the "
                "references as a second file with --ref-file"
            )
        sources.append(columns[0])
        references.append(columns[1:])
    return sources, references


def _seq2seq(run: Run, sources: list[str], references: list[list[str]]) -> dict[str, Any]:
    task = run.task
    if not sources:
        raise AiaynError("the file holds no examples")
    with torch.no_grad():
        outputs = task.translate(run.model, sources, task.search_options())
    return {"examples": len(sources), **task.score(outputs, references)}


def _classification(run: Run, path: Path) -> dict[str, Any]:
    task: ClassificationTask = run.task  # type: ignore[assignment]
    names = task.label_names()
    if isinstance(task, SST2Task):  # GLUE's layout: a header, then sentence<TAB>0 or 1
        pairs = [(text, names[label]) for text, label in read_sst2(path)]
    else:
        text, label = task.opts["text_field"], task.opts["label_field"]
        pairs = [(r[text], r[label]) for r in read_records(path, fields=[text, label]).rows]
    if not pairs:
        raise AiaynError(f"{path} has no usable records")
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted({name for _, name in pairs} - set(index))
    if unknown:
        raise AiaynError(f"{path} has labels {unknown[:5]} that are not the run's {names}")
    labels = torch.tensor([index[name] for _, name in pairs])
    with torch.no_grad():
        probs = task.probabilities(run.model, task.encode([t for t, _ in pairs]))
    return {"examples": len(pairs), **task.score(probs, labels, "file")}


def evaluate_file(
    run: Run,
    path: Path,
    *,
    ref_fields: list[str] | None = None,
    ref_file: Path | None = None,
) -> dict[str, Any]:
    """The task's figures of `run` on the examples in `path` (see the module docstring)."""
    task, path = run.task, Path(path)
    if not path.is_file():
        raise AiaynError(f"no file {path}")
    is_summary = isinstance(task, SummarizationTask)
    if ref_fields and not is_summary:
        raise AiaynError("--ref-field names reference fields of a summarisation file")
    if ref_file is not None and not isinstance(task, TranslationTask):
        raise AiaynError("--ref-file gives the references of a translation file")
    if is_summary:
        fields = ref_fields or task.target_fields()
        source = task.source_field()
        records = read_records(path, fields=[source, *fields])
        sources = [r[source] for r in records.rows]
        figures = _seq2seq(run, sources, [[r[f] for f in fields] for r in records.rows])
        figures["references"] = fields
    elif isinstance(task, TranslationTask):
        figures = _seq2seq(run, *_translation_examples(path, ref_file))
    elif isinstance(task, ClassificationTask):
        figures = _classification(run, path)
    else:
        raise AiaynError(
            f"{run.directory} is a {task.name!r} run; `aiayn eval --file` scores translation, "
            "summarisation and classification runs (evaluate this one with --split)"
        )
    return {"file": str(path), **figures}


__all__ = ["evaluate_file"]
