"""The report of a training run: one self-contained HTML file that opens with no network.

`render_report(ReportData(...))` returns the document: the run's summary figures, curves of loss,
learning rate and every other metric (drawn by the page's own script as SVG), sample outputs, an
attention explorer (view, layer and head; hover a token to light its row or column) and the
resolved config. Everything the page shows is data in a JSON script tag, put on the page as text,
so no string from a run (a token, a config value) can become markup.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from aiayn.web.attention import AttentionView
from aiayn.web.page import render_page

__all__ = ["AttentionView", "ReportData", "render_report"]

# Counters of a metrics record, not measurements: never drawn as curves.
NOT_CURVES: frozenset[str] = frozenset({"step", "epoch", "seconds"})

STYLES = ["base.css", "report.css"]
SCRIPTS = ["common.js", "heatmap.js", "charts.js", "report.js"]


@dataclass(frozen=True, kw_only=True)
class ReportData:
    """What a report shows, read from a run directory by the caller.

    config: the resolved config.json (sections such as "model", "train", "task_options" are dicts;
    top-level scalars such as "task" are shown together as "run"). metrics: the records of
    metrics.jsonl, each a dict with an int "step" and any numbers (train_loss, lr, val_loss, ...).
    summary: summary.json (nested dicts are shown with dotted keys). samples: dicts with "input",
    "output" and "reference" (a str, or None when there is none). attention: the views the
    explorer offers.
    """

    title: str
    config: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    attention: list[AttentionView] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.title, str):
            raise ValueError(f"ReportData.title must be a str, got {self.title!r}")
        for name in ("config", "summary"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"ReportData.{name} must be a dict, got {getattr(self, name)!r}")
        for i, record in enumerate(self.metrics):
            step = record.get("step") if isinstance(record, dict) else None
            if isinstance(step, bool) or not isinstance(step, int):
                raise ValueError(
                    f"ReportData.metrics[{i}] must be a dict with an int 'step', got {record!r}"
                )
        for i, sample in enumerate(self.samples):
            if (
                not isinstance(sample, dict)
                or not isinstance(sample.get("input"), str)
                or not isinstance(sample.get("output"), str)
                or not isinstance(sample.get("reference"), str | None)
            ):
                raise ValueError(
                    f"ReportData.samples[{i}] must be a dict with str 'input' and 'output' and a "
                    f"str or None 'reference', got {sample!r}"
                )
        for i, view in enumerate(self.attention):
            if not isinstance(view, AttentionView):
                raise ValueError(
                    f"ReportData.attention[{i}] must be an AttentionView, got {type(view).__name__}"
                )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    """A config or summary value as the page shows it: strings bare, floats short, rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value, ensure_ascii=False, default=str)


def _flatten(values: dict[str, Any], prefix: str = "") -> list[list[str]]:
    """Rows [key, text] of a dict, nested dicts spelled with dotted keys."""
    rows: list[list[str]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(_flatten(value, f"{name}."))
        else:
            rows.append([name, _text(value)])
    return rows


def config_sections(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The config as sections {"name", "rows": [[key, text], ...]}: scalars first as "run"."""
    scalars = {k: v for k, v in config.items() if not isinstance(v, dict)}
    sections = [{"name": "run", "rows": _flatten(scalars)}] if scalars else []
    for key, value in config.items():
        if isinstance(value, dict):
            sections.append({"name": str(key), "rows": _flatten(value)})
    return sections


def summary_rows(summary: dict[str, Any]) -> list[list[str]]:
    """summary.json as table rows [key, text], nested dicts spelled with dotted keys."""
    return _flatten(summary)


def curves(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The charts of a run's metrics: {"title", "series": [{"name", "points": [[step, y]]}]}.

    Every key ending in "loss" goes on one "loss" chart, "lr" on "learning rate", and each
    other numeric key (throughput, BLEU, accuracy, ...) on a chart of its own, in the order the
    keys first appear. Counters (step, epoch, seconds) and non-finite values are left out.
    """
    points: dict[str, dict[int, float]] = {}  # key -> step -> value; a repeated step keeps the last
    for record in metrics:
        for key, value in record.items():
            if key in NOT_CURVES or not _is_number(value) or not math.isfinite(value):
                continue
            points.setdefault(key, {})[record["step"]] = value
    losses = [k for k in points if k.endswith("loss")]
    charts = []
    if losses:
        charts.append({"title": "loss", "keys": losses})
    if "lr" in points:
        charts.append({"title": "learning rate", "keys": ["lr"]})
    charts.extend({"title": k, "keys": [k]} for k in points if k != "lr" and k not in losses)
    return [
        {
            "title": chart["title"],
            "series": [
                {"name": k, "points": sorted(map(list, points[k].items()))} for k in chart["keys"]
            ],
        }
        for chart in charts
    ]


def report_json(data: ReportData) -> dict[str, Any]:
    """What the report page reads from its JSON script tag."""
    return {
        "title": data.title,
        "summary": summary_rows(data.summary),
        "curves": curves(data.metrics),
        "samples": [
            {"input": s["input"], "output": s["output"], "reference": s.get("reference")}
            for s in data.samples
        ],
        "attention": [view.to_json() for view in data.attention],
        "config": config_sections(data.config),
    }


def render_report(data: ReportData) -> str:
    """The report as one HTML document (str) with its styles, script and data inlined."""
    return render_page(
        "report.html", title=data.title, styles=STYLES, scripts=SCRIPTS, data=report_json(data)
    )
