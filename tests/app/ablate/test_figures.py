"""The ablations' figures: panels of lines and heatmaps to PNG."""

from __future__ import annotations

from aiayn.app.ablate._figures import Line, Panel, save_panels


def test_lines_and_a_heatmap_make_one_png(tmp_path) -> None:
    panels = [
        Panel("lines", [Line("a", [1, 2, 3], [1.0, 2.0, 4.0], [0.1, 0.2, 0.1])], logy=True),
        Panel("matrix", matrix=[[1.0, 0.5], [0.5, 1.0]], vmin=0, vmax=1),
        Panel("with a limit", [Line("b", [1, 2], [0.5, 0.4], style="--")], vline=1.5),
    ]
    out = save_panels(tmp_path / "sub" / "f.png", panels, title="demo")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_grouped_bars(tmp_path) -> None:
    lines = [
        Line("token", ["a", "b"], [0.9, 0.2], [0.01, 0.02]),
        Line("seq", ["a", "b"], [0.5, 0.0]),
    ]
    out = save_panels(tmp_path / "bars.png", [Panel("bars", lines, categories=["a", "b"])])
    assert out.read_bytes()[:4] == b"\x89PNG"
