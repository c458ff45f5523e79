"""The training loss: label-smoothed cross-entropy (section 5.4), for any of the three models.

Label smoothing of epsilon_ls = 0.1 trains towards the distribution (1 - eps) * one_hot + eps / K
instead of the one-hot target: "this hurts perplexity, as the model learns to be more unsure, but
improves accuracy and BLEU score". With eps = 0 it is plain cross-entropy. The K classes that
share eps are the tokens a model can be asked to predict: ids that are never a target (<pad>,
<bos>) can be left out (`smoothing_exclude`), so no probability is taught to go to them.

Batches are dicts of tensors, one layout per model kind:
    encoder-decoder     {"src": (B, S), "tgt_in": (B, T), "tgt_out": (B, T)}
    decoder-only        {"inputs": (B, T), "targets": (B, T)}
    encoder-classifier  {"tokens": (B, T), "labels": (B,)}  (+ optional "token_types": (B, T))
Padding in the targets (pad_id) is ignored by the loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aiayn.models import DecoderOnlyLM, EncoderClassifier, EncoderDecoder

Batch = dict[str, Tensor]


def label_smoothed_cross_entropy(
    logits: Tensor,
    target: Tensor,
    *,
    epsilon: float = 0.0,
    ignore_index: int | None = None,
    exclude: Sequence[int] = (),
) -> tuple[Tensor, Tensor]:
    """(N, V) logits, (N,) class ids -> (summed loss, number of counted targets).

    loss = (1 - eps) * NLL + eps * mean over the smoothed classes of -log p, where the smoothed
    classes are all V minus `exclude`. The sum, not the mean, so that callers can normalise by
    the number of real tokens across micro-batches (gradient accumulation) and processes
    (distributed training). A batch whose targets are all padding gives (0, 0): finite.
    """
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"epsilon (label smoothing) must be in [0, 1), got {epsilon!r}")
    ignore = -100 if ignore_index is None else ignore_index
    logits = logits.float()
    n = (target != ignore).sum()
    if epsilon == 0.0 or not exclude:
        # torch's fused kernel computes exactly (1 - eps) * NLL + eps * mean_over_all(-log p).
        loss = F.cross_entropy(
            logits, target, ignore_index=ignore, label_smoothing=epsilon, reduction="sum"
        )
        return loss, n
    V = logits.size(-1)
    excluded = torch.tensor(sorted(set(exclude)), device=logits.device)
    if excluded.min() < 0 or excluded.max() >= V:
        raise ValueError(f"smoothing exclude ids must be in [0, {V}), got {sorted(set(exclude))}")
    log_p = F.log_softmax(logits, dim=-1)  # (N, V)
    keep = target != ignore  # (N,)
    nll = -log_p.gather(1, torch.where(keep, target, 0).unsqueeze(1)).squeeze(1)  # (N,)
    kept_classes = V - excluded.numel()
    smooth = -(log_p.sum(-1) - log_p.index_select(1, excluded).sum(-1)) / kept_classes  # (N,)
    loss = ((1.0 - epsilon) * nll + epsilon * smooth).masked_fill(~keep, 0.0).sum()
    return loss, n


@dataclass
class LossOutput:
    loss_sum: Tensor  # summed over counted targets (scalar, differentiable)
    n_targets: Tensor  # number of counted targets (tokens, or examples for a classifier)
    n_correct: Tensor  # argmax predictions equal to the target
    nll_sum: Tensor  # the un-smoothed negative log-likelihood (for perplexity), detached


def count_targets(batch: Batch, pad_id: int) -> Tensor:
    """How many targets the loss will count in `batch` (real tokens, or examples)."""
    if "tgt_out" in batch:
        return (batch["tgt_out"] != pad_id).sum()
    if "targets" in batch:
        return (batch["targets"] != pad_id).sum()
    return torch.tensor(batch["labels"].numel())


def compute_loss(
    model: nn.Module,
    batch: Batch,
    *,
    label_smoothing: float = 0.0,
    pad_id: int = 0,
    smoothing_exclude: Sequence[int] = (),
) -> LossOutput:
    """Run `model` on `batch` and score it. Works for any of the three models. The smoothing
    mass is spread over every class but `smoothing_exclude` (see the module docstring)."""
    if isinstance(model, EncoderDecoder) or "src" in batch:
        logits = model(batch["src"], batch["tgt_in"])  # (B, T, V)
        target = batch["tgt_out"]
        ignore: int | None = pad_id
    elif isinstance(model, DecoderOnlyLM) or "inputs" in batch:
        logits = model(batch["inputs"])  # (B, T, V)
        target = batch["targets"]
        ignore = pad_id
    elif isinstance(model, EncoderClassifier) or "labels" in batch:
        logits = model(batch["tokens"], token_types=batch.get("token_types"))  # (B, C)
        target = batch["labels"]
        ignore = None
    else:
        # Models from other libraries (a Hugging Face classifier) are wrapped by their task.
        raise ValueError(f"compute_loss does not know the batch layout {sorted(batch)}")
    logits = logits.reshape(-1, logits.size(-1))  # (B, T, V) -> (B*T, V)
    target = target.reshape(-1)
    loss_sum, n = label_smoothed_cross_entropy(
        logits, target, epsilon=label_smoothing, ignore_index=ignore, exclude=smoothing_exclude
    )
    with torch.no_grad():
        keep = target != (-100 if ignore is None else ignore)
        # Correct where the target's logit is the row's largest (a tie for the top counts).
        # One amax pass: on CPU, argmax over (B*T, V) bf16 logits takes ~15x as long.
        target_logit = logits.gather(1, torch.where(keep, target, 0).unsqueeze(1)).squeeze(1)
        n_correct = ((target_logit == logits.amax(-1)) & keep).sum()
        if label_smoothing > 0.0:
            nll_sum, _ = label_smoothed_cross_entropy(logits, target, ignore_index=ignore)
        else:
            nll_sum = loss_sum.detach()
    return LossOutput(loss_sum=loss_sum, n_targets=n, n_correct=n_correct, nll_sum=nll_sum)
