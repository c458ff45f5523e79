"""Training curves and per-position accuracy as PNG files.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot), so no display is needed, no
global figure state is kept, and nothing leaks between calls.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


logger = logging.getLogger(__name__)

_LOSS_KEYS: tuple[str, ...] = ("train_loss", "val_loss")


def _new_figure(width: float, height: float) -> Figure:
    # matplotlib takes about a second to import: only when something is drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # attaches the Agg canvas: savefig renders off-screen
    return fig


def _save(fig: Figure, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def _read_series(metrics_jsonl: Path) -> dict[str, tuple[list[float], list[float]]]:
    """key -> (steps, values) for every finite number logged under `key` with a `step`."""
    series: dict[str, tuple[list[float], list[float]]] = {}
    with Path(metrics_jsonl).open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                # A run killed mid-write leaves a truncated last line; the rest is still good.
                logger.warning("%s:%d: not valid JSON, skipped", metrics_jsonl, line_no)
                continue
            if not isinstance(record, dict):
                continue
            step = record.get("step")
            if not _is_number(step):
                continue
            for key, value in record.items():
                if key != "step" and _is_number(value):
                    steps, values = series.setdefault(key, ([], []))
                    steps.append(float(step))
                    values.append(float(value))
    return series


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def plot_curves(metrics_jsonl: Path, out_dir: Path) -> list[Path]:
    """Plot a training run's metrics log: `loss.png` (train_loss and/or val_loss against step) and
    `lr.png` (learning rate against step), in `out_dir`.

    `metrics_jsonl` holds one JSON object per line, e.g. {"step": 10, "train_loss": 2.3, "lr": 1e-3}
    or {"step": 100, "val_loss": 2.0}; records without a numeric `step` and keys that are absent
    are skipped. Returns the paths written: [] when there is nothing to plot (e.g. an empty file).
    """
    series = _read_series(metrics_jsonl)
    out_dir = Path(out_dir)
    written: list[Path] = []

    loss_keys = [k for k in _LOSS_KEYS if k in series]
    if loss_keys:
        fig = _new_figure(7, 4.5)
        ax = fig.add_subplot()
        for key in loss_keys:
            steps, values = series[key]
            marker = "o" if key == "val_loss" else None
            ax.plot(steps, values, marker=marker, markersize=3, label=key.replace("_", " "))
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title("loss")
        ax.grid(True, alpha=0.3)
        ax.legend()
        written.append(_save(fig, out_dir / "loss.png"))

    if "lr" in series:
        fig = _new_figure(7, 3.5)
        ax = fig.add_subplot()
        steps, values = series["lr"]
        ax.plot(steps, values)
        ax.set_xlabel("step")
        ax.set_ylabel("learning rate")
        ax.set_title("learning rate")
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        ax.grid(True, alpha=0.3)
        written.append(_save(fig, out_dir / "lr.png"))

    return written


def plot_per_position_accuracy(
    acc: Sequence[float],
    out: Path,
    *,
    title: str = "",
    split_at: int | None = None,
    chance: float | None = None,
) -> Path:
    """Bar chart of accuracy (fractions in [0, 1]) at each output position; returns `out`.

    `split_at` marks a boundary before position `split_at` (e.g. the reversal task, where the
    positions before it can only be guessed and those after it can be copied) and colours the two
    sides apart. `chance` draws a horizontal line at the chance level. NaN bars are left empty.
    """
    values = [float(a) for a in acc]
    if not values:
        raise ValueError("acc is empty: need at least one position")
    if split_at is not None and not 0 <= split_at <= len(values):
        raise ValueError(f"split_at must be in [0, {len(values)}], got {split_at!r}")

    fig = _new_figure(max(5.0, min(0.3 * len(values), 20.0)), 3.5)
    ax = fig.add_subplot()
    positions = list(range(len(values)))
    colors = [
        "tab:gray" if split_at is not None and i < split_at else "tab:blue" for i in positions
    ]
    ax.bar(positions, values, color=colors, width=0.8)
    if split_at is not None:
        ax.axvline(split_at - 0.5, color="black", linestyle="--", linewidth=1)
    if chance is not None:
        ax.axhline(chance, color="tab:red", linestyle=":", linewidth=1, label=f"chance {chance:g}")
        ax.legend(loc="best")
    finite = [v for v in values if math.isfinite(v)]
    if not finite or max(finite) <= 1.0:
        ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("position")
    ax.set_ylabel("accuracy")
    if title:
        ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, out)


__all__ = ["plot_curves", "plot_per_position_accuracy"]
