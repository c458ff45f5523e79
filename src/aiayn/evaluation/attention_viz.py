"""Where the decoder looks: encoder-decoder attention weights, extracted and drawn as heatmaps.

Notation: H heads, T target (query) length, S source (key) length.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from aiayn.models import EncoderDecoder


def cross_attention_weights(
    model: EncoderDecoder, src: Tensor, tgt: Tensor, *, layer: int = -1
) -> Tensor:
    """Encoder-decoder attention weights of decoder layer `layer` for one sentence pair.

    src: (1, S) source ids; tgt: (1, T) target input ids (shifted right, starting with BOS).
    Runs the model in eval mode without gradients (its training mode is restored afterwards) and
    returns the weights (H, T, S): row t is how query position t spreads over the source.
    """
    if src.dim() != 2 or src.size(0) != 1:
        raise ValueError(f"src must be (1, S), got shape {tuple(src.shape)}")
    if tgt.dim() != 2 or tgt.size(0) != 1:
        raise ValueError(f"tgt must be (1, T), got shape {tuple(tgt.shape)}")
    n_layers = len(model.decoder.layers)
    if not -n_layers <= layer < n_layers:
        raise ValueError(f"layer must be in [{-n_layers}, {n_layers}), got {layer!r}")
    cross_attn = model.decoder.layers[layer].cross_attn
    if cross_attn is None:
        raise ValueError("the model's decoder has no encoder-decoder attention")

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            memory, src_mask = model.encode(src)
            model.decode(tgt, memory, src_mask, need_weights=True)
    finally:
        model.train(was_training)
    weights = cross_attn.last_weights
    if weights is None:
        raise RuntimeError("the decoder kept no attention weights despite need_weights=True")
    return weights[0].clone()  # (1, H, T, S) -> (H, T, S)


def attention_heatmap(
    weights: Tensor,
    *,
    src_tokens: list[str],
    tgt_tokens: list[str],
    out: Path,
    average_heads: bool = False,
    title: str = "",
) -> Path:
    """Draw attention weights (H, T, S) or (T, S) as heatmaps with token labels; returns `out`.

    Rows are target (query) tokens, columns source (key) tokens. One subplot per head in a grid,
    or a single heatmap of the mean over heads with `average_heads=True`.
    """
    if weights.dim() == 2:
        weights = weights.unsqueeze(0)  # (T, S) -> (1, T, S)
    if weights.dim() != 3:
        raise ValueError(f"weights must be (H, T, S) or (T, S), got shape {tuple(weights.shape)}")
    _, T, S = weights.shape
    if len(tgt_tokens) != T or len(src_tokens) != S:
        raise ValueError(
            f"weights of shape {tuple(weights.shape)} need {T} tgt_tokens and {S} src_tokens, "
            f"got {len(tgt_tokens)} tgt_tokens and {len(src_tokens)} src_tokens"
        )
    w = weights.detach().to("cpu", torch.float32)
    if average_heads:
        w = w.mean(dim=0, keepdim=True)  # (H, T, S) -> (1, T, S)
    H = w.size(0)

    ncols = math.ceil(math.sqrt(H))
    nrows = math.ceil(H / ncols)
    cell_w = max(2.5, 0.3 * S + 1.0)
    cell_h = max(2.5, 0.3 * T + 1.0)
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # slow to import: only here
    from matplotlib.figure import Figure

    fig = Figure(figsize=(ncols * cell_w + 1.0, nrows * cell_h), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    image = None
    for i, ax in enumerate(axes.flat):
        if i >= H:
            ax.set_visible(False)
            continue
        image = ax.imshow(w[i].numpy(), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(S), labels=src_tokens, rotation=90, fontsize=8)
        ax.set_yticks(range(T), labels=tgt_tokens, fontsize=8)
        if H > 1:
            ax.set_title(f"head {i}", fontsize=9)
        elif average_heads:
            ax.set_title("mean over heads", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
    if title:
        fig.suptitle(title)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


__all__ = ["attention_heatmap", "cross_attention_weights"]
