"""Where a model looks: attention weights of every layer and head, extracted and drawn as heatmaps.

Three architectures, four kinds of attention: an encoder-decoder has encoder self-attention
("encoder"), masked decoder self-attention ("decoder") and encoder-decoder attention ("cross");
a decoder-only language model has masked self-attention ("decoder"); an encoder classifier has
encoder self-attention ("encoder"). "self" names the one self-attention of a single-stack model.

Notation: L layers, H heads, T target (query) length, S source (key) length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from aiayn.models import DecoderOnlyLM, EncoderClassifier, EncoderDecoder

KINDS: tuple[str, ...] = ("encoder", "decoder", "cross", "self")
TITLES = {
    "encoder": "encoder self-attention",
    "decoder": "decoder masked self-attention",
    "cross": "encoder-decoder attention",
}


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


@dataclass(frozen=True)
class AttentionMap:
    """One kind of attention of one input: weights (L, H, Tq, Tk) and the tokens on its axes."""

    weights: Tensor
    query_tokens: list[str]
    key_tokens: list[str]

    def __post_init__(self) -> None:
        L, H, T, S = self.weights.shape
        if len(self.query_tokens) != T or len(self.key_tokens) != S:
            raise ValueError(
                f"weights {tuple(self.weights.shape)} need {T} query and {S} key tokens, got "
                f"{len(self.query_tokens)} and {len(self.key_tokens)}"
            )


def _stacked(modules: list[nn.Module]) -> Tensor:
    """The kept weights of each attention module of one sentence: (L, H, Tq, Tk)."""
    kept = [m.last_weights for m in modules]
    if any(w is None for w in kept):
        raise RuntimeError("an attention layer kept no weights despite need_weights=True")
    return torch.stack([w[0].float().cpu() for w in kept])  # L x (1, H, Tq, Tk) -> (L, H, Tq, Tk)


def _run(model: nn.Module, forward) -> None:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            forward()
    finally:
        model.train(was_training)


def model_attention(
    model: nn.Module, tokens: Tensor, tgt: Tensor | None = None
) -> dict[str, Tensor]:
    """Every attention of one input, by kind, each (L, H, Tq, Tk).

    An EncoderDecoder reads `tokens` (1, S) as the source and `tgt` (1, T) as the target input
    (starting with BOS): {"encoder": (L, H, S, S), "decoder": (L, H, T, T), "cross": (L, H, T, S)}.
    A DecoderOnlyLM reads `tokens` (1, T): {"decoder": (L, H, T, T)}; an EncoderClassifier
    {"encoder": (L, H, T, T)}. Another model (a baseline, a Hugging Face model) is a ValueError.
    """
    if tokens.dim() != 2 or tokens.size(0) != 1:
        raise ValueError(f"tokens must be (1, T), got shape {tuple(tokens.shape)}")
    if isinstance(model, EncoderDecoder):
        if tgt is None or tgt.dim() != 2 or tgt.size(0) != 1:
            raise ValueError("an encoder-decoder needs tgt, the (1, T) target input ids")

        def forward() -> None:
            memory, src_mask = model.encode(tokens, need_weights=True)
            model.decode(tgt, memory, src_mask, need_weights=True)

        _run(model, forward)
        layers = model.decoder.layers
        return {
            "encoder": _stacked([layer.self_attn for layer in model.encoder.layers]),
            "decoder": _stacked([layer.self_attn for layer in layers]),
            "cross": _stacked([layer.cross_attn for layer in layers]),
        }
    if isinstance(model, DecoderOnlyLM):
        _run(model, lambda: model(tokens, need_weights=True))
        return {"decoder": _stacked([layer.self_attn for layer in model.decoder.layers])}
    if isinstance(model, EncoderClassifier):
        _run(model, lambda: model.hidden_states(tokens, need_weights=True))
        return {"encoder": _stacked([layer.self_attn for layer in model.encoder.layers])}
    raise ValueError(
        f"a {type(model).__name__} keeps no attention weights to draw (only the Transformer "
        "models of aiayn.models do)"
    )


def readable_piece(piece: str) -> str:
    """A token as an axis label: a space, or the BPE word-start mark "▁", shown as "·"; a line
    break as "\\n"."""
    return piece.replace("▁", "·").replace(" ", "·").replace("\n", "\\n") or "·"


def attention_grid(
    weights: Tensor,
    *,
    query_tokens: list[str],
    key_tokens: list[str],
    out: Path,
    layers: list[int],
    heads: list[int] | None,
    title: str = "",
) -> Path:
    """Draw weights (L, H, Tq, Tk) as a grid, a row per layer and a column per head; returns `out`.

    `layers` and `heads` are the real numbers of the rows and columns (0-based, as the model
    counts them), shown in each panel's title; `heads=None` says the one column is the mean
    over heads. Rows of a panel are query tokens, columns key
    tokens.
    """
    if weights.dim() != 4:
        raise ValueError(f"weights must be (L, H, Tq, Tk), got shape {tuple(weights.shape)}")
    L, H, T, S = weights.shape
    if len(query_tokens) != T or len(key_tokens) != S:
        raise ValueError(
            f"weights of shape {tuple(weights.shape)} need {T} query_tokens and {S} key_tokens, "
            f"got {len(query_tokens)} and {len(key_tokens)}"
        )
    if len(layers) != L or (len(heads) if heads is not None else 1) != H:
        raise ValueError(f"need {L} layer numbers and {H} head numbers, got {layers} and {heads}")
    w = weights.detach().to("cpu", torch.float32)
    cell_w, cell_h = max(2.2, 0.22 * S + 0.9), max(2.2, 0.22 * T + 0.9)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100 if L * H <= 16 else 70
    fig = Figure(figsize=(H * cell_w + 1.0, L * cell_h + 0.6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(L, H, squeeze=False)
    image = None
    for i in range(L):
        for j in range(H):
            ax = axes[i][j]
            image = ax.imshow(w[i, j].numpy(), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
            ax.set_xticks(range(S), labels=key_tokens, rotation=90, fontsize=7)
            ax.set_yticks(range(T), labels=query_tokens, fontsize=7)
            name = "mean over heads" if heads is None else f"head {heads[j]}"
            ax.set_title(f"layer {layers[i]}, {name}", fontsize=8)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6)
    if title:
        fig.suptitle(title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


__all__ = [
    "KINDS",
    "TITLES",
    "AttentionMap",
    "attention_grid",
    "attention_heatmap",
    "cross_attention_weights",
    "model_attention",
    "readable_piece",
]
