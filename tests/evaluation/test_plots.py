import json
from pathlib import Path

import pytest

from aiayn.evaluation import plot_curves, plot_per_position_accuracy

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_plot_curves_writes_loss_and_lr(tmp_path):
    records = [{"step": s, "train_loss": 5.0 / s, "lr": 1e-3 * s / 50} for s in range(1, 51)]
    records += [{"step": 25, "val_loss": 0.5}, {"step": 50, "val_loss": 0.3}]
    metrics = _write_jsonl(tmp_path / "metrics.jsonl", records)
    paths = plot_curves(metrics, tmp_path / "plots")
    assert [p.name for p in paths] == ["loss.png", "lr.png"]
    assert all(_is_png(p) for p in paths)


def test_plot_curves_with_missing_keys(tmp_path):
    records = [
        {"step": 1, "val_loss": 2.0},
        {"epoch": 3},  # no step: skipped
        {"step": 2, "val_loss": None, "other": "text"},
        {"step": 3, "val_loss": 1.5, "bleu": 12.0},
    ]
    metrics = _write_jsonl(tmp_path / "metrics.jsonl", records)
    # a truncated final line, as from a run killed mid-write
    with metrics.open("a", encoding="utf-8") as f:
        f.write('{"step": 4, "val_lo\n\n')
    paths = plot_curves(metrics, tmp_path / "out")
    assert [p.name for p in paths] == ["loss.png"]
    assert _is_png(paths[0])
    assert not (tmp_path / "out" / "lr.png").exists()


def test_plot_curves_only_lr(tmp_path):
    metrics = _write_jsonl(tmp_path / "m.jsonl", [{"step": i, "lr": 0.1 * i} for i in range(5)])
    paths = plot_curves(metrics, tmp_path)
    assert [p.name for p in paths] == ["lr.png"]
    assert _is_png(paths[0])


def test_plot_curves_empty_file(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("", encoding="utf-8")
    assert plot_curves(metrics, tmp_path / "plots") == []
    assert not (tmp_path / "plots" / "loss.png").exists()


def test_plot_per_position_accuracy(tmp_path):
    acc = [0.1, 0.12, 0.09, 0.11, 1.0, 0.99, 1.0, float("nan")]
    out = plot_per_position_accuracy(
        acc, tmp_path / "sub" / "acc.png", title="reversal", split_at=4, chance=0.1
    )
    assert out == tmp_path / "sub" / "acc.png"
    assert _is_png(out)


def test_plot_per_position_accuracy_plain(tmp_path):
    out = plot_per_position_accuracy([0.5, 0.75], tmp_path / "acc.png", title="", split_at=None)
    assert _is_png(out)
    assert out.stat().st_size > 100


def test_plot_per_position_accuracy_bad_input(tmp_path):
    with pytest.raises(ValueError, match="acc"):
        plot_per_position_accuracy([], tmp_path / "a.png", title="x", split_at=None)
    with pytest.raises(ValueError, match="split_at"):
        plot_per_position_accuracy([0.5, 0.5], tmp_path / "a.png", title="x", split_at=3)
