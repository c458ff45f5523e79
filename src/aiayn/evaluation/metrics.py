"""Small evaluation metrics: perplexity, binary accuracy/F1, exact match, per-position accuracy.

Notation: N sequences, T positions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

# math.exp overflows a float64 just above this; perplexity is reported as inf beyond it.
_MAX_EXP_ARG = math.log(torch.finfo(torch.float64).max)


def perplexity(total_nll: float, n_tokens: int) -> float:
    """exp(total_nll / n_tokens): the perplexity of `n_tokens` tokens whose summed negative
    log-likelihood (natural log) is `total_nll`.

    Returns `math.inf` instead of raising OverflowError when the mean NLL is too large.
    """
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens <= 0:
        raise ValueError(f"n_tokens must be a positive integer, got {n_tokens!r}")
    total_nll = float(total_nll)
    if math.isnan(total_nll) or total_nll < 0:
        raise ValueError(f"total_nll must be a non-negative number, got {total_nll!r}")
    mean = total_nll / n_tokens
    if mean > _MAX_EXP_ARG:
        return math.inf
    return math.exp(mean)


def _as_1d(values: Sequence[int] | Tensor, name: str) -> Tensor:
    t = torch.as_tensor(values)
    if t.dim() != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {tuple(t.shape)}")
    return t


def accuracy_f1(
    predictions: Sequence[int] | Tensor,
    labels: Sequence[int] | Tensor,
    *,
    positive: int = 1,
) -> dict[str, float]:
    """Accuracy and binary precision / recall / F1 of `positive`, for (N,) predicted and true
    labels.

    Undefined ratios are 0.0 rather than a division by zero: precision when nothing is predicted
    positive, recall when no label is positive, F1 when precision + recall is 0.
    Returns {"accuracy", "f1", "precision", "recall"}.
    """
    pred = _as_1d(predictions, "predictions")
    true = _as_1d(labels, "labels")
    if pred.shape != true.shape:
        raise ValueError(
            f"predictions and labels must have the same length, got {pred.numel()} and "
            f"{true.numel()}"
        )
    if pred.numel() == 0:
        raise ValueError("predictions and labels are empty: need at least one example")
    pred_pos = pred == positive
    true_pos = true == positive
    tp = int((pred_pos & true_pos).sum())
    fp = int((pred_pos & ~true_pos).sum())
    fn = int((~pred_pos & true_pos).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = int((pred == true).sum()) / pred.numel()
    return {"accuracy": accuracy, "f1": f1, "precision": precision, "recall": recall}


def class_scores(
    predictions: Sequence[int] | Tensor, labels: Sequence[int] | Tensor, *, n_classes: int
) -> dict[str, Any]:
    """Accuracy, macro-averaged F1 and each class's precision / recall / F1 / support, for (N,)
    predicted and true class ids in [0, n_classes). Macro-F1 is the unweighted mean of the
    classes' F1 (a class absent from both counts as F1 0). Returns {"accuracy", "macro_f1",
    "per_class": [{"precision", "recall", "f1", "support"}, ...]}."""
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    true = _as_1d(labels, "labels")
    per_class = []
    for c in range(n_classes):
        s = accuracy_f1(predictions, true, positive=c)
        support = int((true == c).sum())
        per_class.append({k: s[k] for k in ("precision", "recall", "f1")} | {"support": support})
    return {
        "accuracy": s["accuracy"],
        "macro_f1": sum(c["f1"] for c in per_class) / n_classes,
        "per_class": per_class,
    }


def sequence_exact_match(hyps: list[list[int]], refs: list[list[int]]) -> float:
    """Fraction of hypotheses identical to their reference (same length, same ids)."""
    if len(hyps) != len(refs):
        raise ValueError(
            f"hyps and refs must have the same length, got len(hyps)={len(hyps)} and "
            f"len(refs)={len(refs)}"
        )
    if not hyps:
        raise ValueError("hyps and refs are empty: need at least one sequence")
    matches = sum(list(h) == list(r) for h, r in zip(hyps, refs, strict=True))
    return matches / len(hyps)


def per_position_accuracy(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Accuracy at each position: pred (N, T) and target (N, T) ids, mask (N, T) bool with True =
    counted (e.g. not padding), or None to count everything. Returns a float tensor (T,).

    A position that no sequence counts (mask all False there) has no accuracy: NaN.
    """
    if pred.dim() != 2 or pred.shape != target.shape:
        raise ValueError(
            f"pred and target must both be (N, T), got pred {tuple(pred.shape)} and target "
            f"{tuple(target.shape)}"
        )
    if mask is None:
        mask = torch.ones_like(target, dtype=torch.bool)
    elif mask.shape != target.shape:
        raise ValueError(
            f"mask must have the shape of target {tuple(target.shape)}, got {tuple(mask.shape)}"
        )
    mask = mask.to(torch.bool)
    correct = ((pred == target) & mask).sum(dim=0).to(torch.float64)  # (N, T) -> (T,)
    counted = mask.sum(dim=0).to(torch.float64)  # (N, T) -> (T,)
    acc = correct / counted  # 0 / 0 = NaN where nothing is counted
    return acc.to(torch.float32)


__all__ = [
    "accuracy_f1",
    "class_scores",
    "per_position_accuracy",
    "perplexity",
    "sequence_exact_match",
]
