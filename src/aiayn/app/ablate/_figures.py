"""The ablations' figures: panels of lines (mean and spread over seeds) and heatmaps, drawn on
matplotlib's Agg canvas (no display, no global figure state)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Line:
    """One curve: x, y and an optional spread (drawn as a band of +- spread)."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    spread: Sequence[float] | None = None
    style: str = "-"


@dataclass
class Panel:
    """One axes: lines, or a matrix drawn as a heatmap (`matrix`), with its labels."""

    title: str
    lines: Sequence[Line] = ()
    xlabel: str = ""
    ylabel: str = ""
    logx: bool = False
    logy: bool = False
    vline: float | None = None  # e.g. the longest training length
    matrix: Sequence[Sequence[float]] | None = None
    vmin: float | None = None
    vmax: float | None = None
    categories: Sequence[str] | None = None  # draw the lines as grouped bars over these


def _bars(ax: Any, panel: Panel) -> None:
    n = max(len(panel.lines), 1)
    width = 0.8 / n
    for j, line in enumerate(panel.lines):
        x = [i - 0.4 + width * (j + 0.5) for i in range(len(line.y))]
        ax.bar(x, line.y, width, yerr=line.spread, label=line.label, capsize=3)
    ax.set_xticks(range(len(panel.categories or [])), panel.categories or [])


def _draw(ax: Any, panel: Panel, fig: Any) -> None:
    if panel.matrix is not None:
        image = ax.imshow(panel.matrix, vmin=panel.vmin, vmax=panel.vmax, cmap="viridis")
        fig.colorbar(image, ax=ax, shrink=0.8)
        n = len(panel.matrix)
        ax.set_xticks(range(len(panel.matrix[0])))
        ax.set_yticks(range(n))
        for i in range(n):
            for j in range(len(panel.matrix[i])):
                ax.text(j, i, f"{panel.matrix[i][j]:.2f}", ha="center", va="center", fontsize=7)
    if panel.categories is not None:
        _bars(ax, panel)
    for line in panel.lines if panel.categories is None else ():
        marker = "o" if len(line.x) < 16 else ""
        ax.plot(line.x, line.y, line.style, label=line.label, marker=marker)
        if line.spread is not None:
            lo = [y - s for y, s in zip(line.y, line.spread, strict=True)]
            hi = [y + s for y, s in zip(line.y, line.spread, strict=True)]
            ax.fill_between(line.x, lo, hi, alpha=0.2)
    if panel.vline is not None:
        ax.axvline(panel.vline, color="grey", linestyle=":", label="longest in training")
    if panel.logx:
        ax.set_xscale("log")
    if panel.logy:
        ax.set_yscale("log")
    ax.set_title(panel.title, fontsize=10)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    if panel.lines:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)


def save_panels(path: Path, panels: Sequence[Panel], *, title: str = "", columns: int = 2) -> Path:
    """Draw `panels` in a grid of `columns` and write the PNG to `path`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = min(columns, len(panels))
    rows = -(-len(panels) // columns)
    fig = Figure(figsize=(5.2 * columns, 3.8 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, panel in enumerate(panels):
        _draw(axes[i // columns][i % columns], panel, fig)
    for j in range(len(panels), rows * columns):
        axes[j // columns][j % columns].set_visible(False)
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
