from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from aiayn.web.report import (
    AttentionView,
    ReportData,
    config_sections,
    curves,
    render_report,
    report_json,
    summary_rows,
)

EVIL = "</script><script>alert(1)</script>"
SRC = ["ein", "Hund", EVIL, "."]
TGT = ["a", "dog", "."]


def peaked(layer: int, head: int, q: int, nk: int) -> list[float]:
    """A row that puts 0.7 on one key, chosen by layer, head and query, and shares the rest."""
    peak = (q + head + 2 * layer) % nk
    return [0.7 if k == peak else 0.3 / (nk - 1) for k in range(nk)]


def weights(layers: int, heads: int, nq: int, nk: int) -> list:
    return [[[peaked(l, h, q, nk) for q in range(nq)] for h in range(heads)] for l in range(layers)]


def demo() -> ReportData:
    metrics: list[dict[str, Any]] = []
    for step in range(10, 201, 10):
        metrics.append(
            {
                "step": step,
                "epoch": step // 100,
                "train_loss": 4 / math.sqrt(step),
                "lr": 1e-3,
                "targets_per_second": 1000.0 + step,
                "seconds": step / 10,
            }
        )
        if step % 50 == 0:
            metrics.append({"step": step, "val_loss": 5 / math.sqrt(step), "val_bleu": step / 10})
    return ReportData(
        title="demo <run>",
        config={
            "task": "multi30k",
            "model": {"d_model": 64, "n_heads": 2},
            "train": {"lr": 0.001, "max_steps": 200, "note": "<img src=x onerror=alert(1)>"},
        },
        metrics=metrics,
        summary={"val_loss": 0.35, "val_greedy": {"bleu": 20.5}, "stopped": "max_steps"},
        samples=[
            {"input": " ".join(SRC), "output": "a dog .", "reference": "a dog ."},
            {"input": "zwei", "output": "two", "reference": None},
        ],
        attention=[
            AttentionView(
                title="cross",
                query_tokens=TGT,
                key_tokens=SRC,
                weights=weights(2, 3, len(TGT), len(SRC)),
            ),
            AttentionView(
                title="encoder",
                query_tokens=SRC,
                key_tokens=SRC,
                weights=weights(1, 2, len(SRC), len(SRC)),
            ),
        ],
    )


def embedded(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="aiayn-data">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


# ---- without a browser ---------------------------------------------------------------------


def test_the_page_embeds_its_data_and_needs_nothing_else() -> None:
    data = demo()
    page = render_report(data)
    assert embedded(page) == report_json(data)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing to fetch
    assert "<link" not in page
    assert len(re.findall(r"<script[\s>]", page)) == 2  # the data and our one inline script


def test_strings_from_the_run_cannot_become_markup() -> None:
    page = render_report(demo())
    assert EVIL not in page
    assert "<img src=x" not in page
    assert "<run>" not in page and "demo &lt;run&gt;" in page
    assert EVIL in embedded(page)["attention"][0]["key_tokens"]


def test_curves_group_losses_and_learning_rate_and_chart_every_other_metric() -> None:
    charts = curves(demo().metrics)
    titles = [c["title"] for c in charts]
    assert titles == ["loss", "learning rate", "targets_per_second", "val_bleu"]
    assert [s["name"] for s in charts[0]["series"]] == ["train_loss", "val_loss"]
    assert charts[0]["series"][1]["points"][0] == [50, 5 / math.sqrt(50)]


def test_curves_leave_out_counters_non_numbers_and_non_finite_values() -> None:
    metrics = [
        {"step": 2, "train_loss": 1.0, "flag": True, "name": "x", "val_bleu": math.nan},
        {"step": 1, "train_loss": math.inf, "val_bleu": 3.0},
        {"step": 2, "train_loss": 0.5},  # a repeated step (a resumed run) keeps the last value
    ]
    charts = curves(metrics)
    assert charts == [
        {"title": "loss", "series": [{"name": "train_loss", "points": [[2, 0.5]]}]},
        {"title": "val_bleu", "series": [{"name": "val_bleu", "points": [[1, 3.0]]}]},
    ]
    render_report(ReportData(title="t", metrics=metrics))  # NaN never reaches the JSON


def test_config_scalars_come_first_as_run_and_nested_keys_are_dotted() -> None:
    sections = config_sections({"task": "lm", "model": {"d": 1, "sub": {"x": None}}, "seed": 3})
    assert sections == [
        {"name": "run", "rows": [["task", "lm"], ["seed", "3"]]},
        {"name": "model", "rows": [["d", "1"], ["sub.x", "null"]]},
    ]


def test_summary_rows_are_short_and_readable() -> None:
    rows = summary_rows({"bleu": 27.123456789, "nested": {"ok": True}, "bad": math.nan, "l": [1]})
    assert rows == [["bleu", "27.1235"], ["nested.ok", "true"], ["bad", "nan"], ["l", "[1]"]]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"metrics": [{"loss": 1.0}]}, r"metrics\[0\] must be a dict with an int 'step'"),
        ({"metrics": [{"step": 1.5}]}, r"metrics\[0\] must be a dict with an int 'step'"),
        ({"samples": [{"input": "a"}]}, r"samples\[0\] must be a dict with str 'input'"),
        ({"samples": [{"input": "a", "output": "b", "reference": 3}]}, r"samples\[0\]"),
        ({"attention": [{"weights": []}]}, r"attention\[0\] must be an AttentionView, got dict"),
        ({"config": []}, "config must be a dict"),
        ({"title": 3}, "title must be a str"),
    ],
)
def test_report_data_refuses_what_it_cannot_show(changes: dict, message: str) -> None:
    fields = {"title": "t"} | changes
    with pytest.raises(ValueError, match=message):
        ReportData(**fields)


# ---- in a real browser ---------------------------------------------------------------------


def open_report(browser_page: Any, tmp_path: Path, data: ReportData | None = None) -> str:
    path = tmp_path / "report.html"
    path.write_text(render_report(data or demo()), encoding="utf-8")
    url = path.as_uri()
    browser_page.page.goto(url)
    browser_page.page.wait_for_selector(".heatmap")
    return url


def drawn_matrix(page: Any) -> tuple[list[list[float]], list[str]]:
    """The weights and fills of the drawn heatmap's cells, read back from the SVG."""
    cells = page.eval_on_selector_all(
        ".heatmap rect.cell",
        "cs => cs.map(c => [+c.dataset.q, +c.dataset.k, +c.dataset.w, c.getAttribute('fill')])",
    )
    nq = max(c[0] for c in cells) + 1
    nk = max(c[1] for c in cells) + 1
    matrix = [[0.0] * nk for _ in range(nq)]
    for q, k, w, _ in cells:
        matrix[q][k] = w
    return matrix, [c[3] for c in cells]


def test_the_report_opens_offline_with_every_section(
    browser_page: Any, tmp_path: Path, save_screenshot: Any
) -> None:
    url = open_report(browser_page, tmp_path)
    page = browser_page.page
    assert browser_page.console_errors == []
    assert browser_page.requests == [url]
    charts = page.eval_on_selector_all("figure.chart-box", "f => f.map(x => x.dataset.title)")
    assert charts == ["loss", "learning rate", "targets_per_second", "val_bleu"]
    assert page.locator("figure[data-title=loss] polyline").count() == 2
    assert page.locator("table.summary tbody tr").count() == 3
    assert page.locator("table.samples tbody tr").count() == 2
    assert page.locator("#config h3").all_inner_texts() == ["run", "model", "train"]
    assert page.get_by_text("<img src=x onerror=alert(1)>", exact=True).count() == 1
    key_labels = page.eval_on_selector_all(
        ".heatmap .token.key title", "t => t.map(x => x.textContent)"
    )
    assert key_labels == SRC  # the <script> token is drawn as text, and no alert opened
    assert save_screenshot(page, "report.png").stat().st_size > 10_000


def test_choosing_another_view_layer_or_head_redraws_the_matrix(
    browser_page: Any, tmp_path: Path
) -> None:
    open_report(browser_page, tmp_path)
    page = browser_page.page
    expected = [view.to_json() for view in demo().attention]
    first, fills_first = drawn_matrix(page)
    assert first == expected[0]["weights"][0][0]
    page.select_option("select[name=head]", "2")
    third, fills_third = drawn_matrix(page)
    assert third == expected[0]["weights"][0][2]
    assert fills_third != fills_first
    page.select_option("select[name=layer]", "1")
    assert drawn_matrix(page)[0] == expected[0]["weights"][1][2]
    page.select_option("select[name=view]", "1")  # the encoder has one layer and two heads
    assert page.locator("select[name=head] option").count() == 2
    assert drawn_matrix(page)[0] == expected[1]["weights"][0][1]
    assert browser_page.console_errors == []


def test_hovering_a_token_lights_its_row_or_its_column(browser_page: Any, tmp_path: Path) -> None:
    open_report(browser_page, tmp_path)
    page = browser_page.page
    lit = (
        "() => [...document.querySelectorAll('.heatmap rect.cell.hl')]"
        ".map(c => c.dataset.q + ',' + c.dataset.k)"
    )
    assert page.evaluate(lit) == []
    page.hover(".heatmap .token.query[data-q='1']")  # "dog": where it attends
    assert sorted(page.evaluate(lit)) == [f"1,{k}" for k in range(len(SRC))]
    lit_labels = ".heatmap .token.hl"
    assert page.eval_on_selector_all(lit_labels, "t => t.map(x => x.dataset.q)") == ["1"]
    assert "dog attends most to" in page.inner_text("#attention .readout")
    page.hover(".heatmap .token.key[data-k='3']")  # ".": what attends to it
    assert sorted(page.evaluate(lit)) == [f"{q},3" for q in range(len(TGT))]
    page.mouse.move(0, 0)
    assert page.evaluate(lit) == []


# ---- the report of a trained run ---------------------------------------------------------


def test_a_trained_run_s_report_opens_offline_and_its_explorer_answers(
    browser_page: Any, toy_runs: Path, tmp_path: Path, save_screenshot: Any
) -> None:
    from aiayn.app.report import write_report
    from aiayn.app.use import open_run

    out = write_report(open_run(toy_runs / "reverse", device="cpu"), tmp_path / "report.html")
    url = out.as_uri()
    page = browser_page.page
    page.goto(url)
    page.wait_for_selector(".heatmap")
    assert browser_page.console_errors == []
    assert browser_page.requests == [url]  # nothing fetched: no network, no other file
    assert page.locator("table.samples tbody tr").count() == 5
    assert page.locator("figure[data-title=loss]").count() == 1  # 5 steps: one val_loss point
    first, fills_first = drawn_matrix(page)
    page.select_option("select[name=head]", "1")
    second, fills_second = drawn_matrix(page)
    assert second != first and fills_second != fills_first
    lit = "() => document.querySelectorAll('.heatmap rect.cell.hl').length"
    page.hover(".heatmap .token.query[data-q='0']")
    assert page.evaluate(lit) == len(first[0])  # the row of the first output token
    page.mouse.move(0, 0)
    assert page.evaluate(lit) == 0
    assert browser_page.console_errors == []
    assert save_screenshot(page, "run-report.png").stat().st_size > 10_000
