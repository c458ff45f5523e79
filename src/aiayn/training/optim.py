"""The optimiser: Adam (section 5.3) over parameter groups for weight decay, layer-wise learning
rates and frozen parameters.

The learning rate itself is not set here: the trainer sets every group's rate at every step from
the schedule (aiayn.training.schedules), times the group's `lr_scale`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from aiayn.config import TrainConfig
from aiayn.errors import AiaynError

_LAYER_INDEX = re.compile(r"\.layers?\.(\d+)\.")  # ours: encoder.layers.3. / BERT: layer.3.


def layer_depth(name: str) -> int | None:
    """Where a parameter sits: 0 for the embeddings, i + 1 for layer i of a stack, None for what
    comes after the stacks (a pooler, the classifier, a final norm)."""
    if "embed" in name:
        return 0
    found = _LAYER_INDEX.search(f".{name}")
    return int(found.group(1)) + 1 if found else None


def freeze_parameters(model: nn.Module, pattern: str) -> int:
    """Stop training every parameter whose name matches the regular expression `pattern`
    (`re.search`); return how many values that freezes. A pattern that matches nothing is an
    error, not a silent no-op."""
    matched = [p for name, p in model.named_parameters() if re.search(pattern, name)]
    if not matched:
        raise AiaynError(f"freeze={pattern!r} matches no parameter name of the model")
    for p in matched:
        p.requires_grad_(False)
    return sum(p.numel() for p in matched)


def parameter_groups(
    named: Sequence[tuple[str, nn.Parameter]], *, weight_decay: float, layer_lr_decay: float
) -> list[dict[str, Any]]:
    """The optimiser's parameter groups.

    - weight_decay > 0: weight matrices decay; biases and LayerNorm gains are exempt.
    - layer_lr_decay < 1 (layer-wise learning-rate decay, as ELECTRA fine-tunes): with L layers,
      a parameter at depth d (`layer_depth`; the head counts as L + 1) learns at
      lr * layer_lr_decay ** (L + 1 - d), its group's "lr_scale". The pretrained bottom moves
      least, the new head most.
    Without either, there is one group, so the optimiser state of earlier runs stays loadable.
    """
    params = [p for _, p in named]
    if layer_lr_decay == 1.0:
        if weight_decay == 0:
            return [{"params": params}]
        return [
            {"params": [p for p in params if p.dim() >= 2]},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
    depths = [layer_depth(name) for name, _ in named]
    top = max((d for d in depths if d is not None), default=0) + 1
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for (_, p), depth in zip(named, depths, strict=True):
        key = (top if depth is None else depth, weight_decay > 0 and p.dim() >= 2)
        if key not in groups:
            groups[key] = {"params": [], "lr_scale": layer_lr_decay ** (top - key[0])}
            if not key[1]:
                groups[key]["weight_decay"] = 0.0
        groups[key]["params"].append(p)
    return list(groups.values())


def build_optimizer(
    named: Sequence[tuple[str, nn.Parameter]], config: TrainConfig, *, fused: bool
) -> torch.optim.Adam:
    """Adam with the paper's betas and epsilon (or the config's), over the trainable parameters
    of `named` grouped by `parameter_groups`. `fused=True` takes torch's one-kernel-per-parameter
    implementation (CPU and CUDA; sharded FSDP parameters need the default one)."""
    groups = parameter_groups(
        [(n, p) for n, p in named if p.requires_grad],
        weight_decay=config.weight_decay,
        layer_lr_decay=config.layer_lr_decay,
    )
    return torch.optim.Adam(
        groups,
        lr=0.0,  # set every step from the schedule
        betas=(config.beta1, config.beta2),
        eps=config.eps,
        # AdamW's decoupled decay (Loshchilov & Hutter): w -= lr * wd * w, beside the Adam step
        weight_decay=config.weight_decay,
        decoupled_weight_decay=True,
        fused=True if fused else None,
    )


__all__ = ["build_optimizer", "freeze_parameters", "layer_depth", "parameter_groups"]
