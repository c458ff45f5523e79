"""Weights and masks across the boundary with torch.nn's reference Transformer modules.

One name table per kind of layer says which of our sub-modules is which of torch's; the same table
drives both directions, `torch_state_dict` (ours -> torch's names) and `load_torch_state_dict`
(torch's names -> ours). Only attention needs more than a rename: torch.nn.MultiheadAttention keeps
W^Q, W^K and W^V stacked in one `in_proj_weight` of shape (3 D, D), ours keeps three (D, D) linear
layers `w_q`, `w_k`, `w_v`.

    ours                                 torch.nn
    MultiHeadAttention                   MultiheadAttention(batch_first=True)
    EncoderLayer / Encoder               TransformerEncoderLayer / TransformerEncoder
    DecoderLayer / Decoder               TransformerDecoderLayer / TransformerDecoder
    DecoderLayer / Decoder without       TransformerEncoderLayer / TransformerEncoder run with a
      encoder-decoder attention            causal mask (a decoder-only stack)

Masks: ours are True = may attend; torch's `key_padding_mask` and boolean `attn_mask` are
True = may NOT attend. The `to_torch_*` / `from_torch_*` functions convert at this boundary.

Notation: B batch, H heads, T query length, S key length, D d_model.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aiayn.config import ModelConfig
from aiayn.interop._hf_files import refuse_ablations
from aiayn.nn.attention import MultiHeadAttention
from aiayn.nn.decoder import Decoder, DecoderLayer
from aiayn.nn.encoder import Encoder, EncoderLayer

logger = logging.getLogger(__name__)

# (torch.nn's tensor name, our tensor names concatenated along dim 0 to make it)
Pair = tuple[str, tuple[str, ...]]

# Attention: torch's q, k, v projections are one stacked matrix; the output projection is a rename.
_MHA_PAIRS: tuple[Pair, ...] = (
    ("in_proj_weight", ("w_q.weight", "w_k.weight", "w_v.weight")),  # 3 x (D, D) -> (3D, D)
    ("in_proj_bias", ("w_q.bias", "w_k.bias", "w_v.bias")),  # 3 x (D,) -> (3D,)
    ("out_proj.weight", ("w_o.weight",)),
    ("out_proj.bias", ("w_o.bias",)),
)

# Our sub-module -> torch.nn's, per kind of layer. Attention entries expand through _MHA_PAIRS,
# the others (Linear, LayerNorm) map `.weight` and `.bias`.
# Every layer has self-attention and a feed-forward network; torch.nn calls its two linear maps
# linear1 and linear2.
_SELF_ATTN_AND_FF: dict[str, str] = {
    "self_attn": "self_attn",
    "feed_forward.w_1": "linear1",
    "feed_forward.w_2": "linear2",
}
ENCODER_LAYER_NAMES: dict[str, str] = {
    **_SELF_ATTN_AND_FF,
    "sublayer_attn.norm": "norm1",
    "sublayer_ff.norm": "norm2",
}
DECODER_LAYER_NAMES: dict[str, str] = {
    **_SELF_ATTN_AND_FF,
    "cross_attn": "multihead_attn",
    "sublayer_self_attn.norm": "norm1",
    "sublayer_cross_attn.norm": "norm2",
    "sublayer_ff.norm": "norm3",
}
# A decoder layer without encoder-decoder attention is an encoder layer run with a causal mask.
DECODER_ONLY_LAYER_NAMES: dict[str, str] = {
    **_SELF_ATTN_AND_FF,
    "sublayer_self_attn.norm": "norm1",
    "sublayer_ff.norm": "norm2",
}

Convertible = MultiHeadAttention | EncoderLayer | DecoderLayer | Encoder | Decoder


def _prefixed(pairs: list[Pair] | tuple[Pair, ...], theirs: str, ours: str) -> list[Pair]:
    return [(theirs + t, tuple(ours + o for o in names)) for t, names in pairs]


def _layer_pairs(layer: nn.Module, names: dict[str, str]) -> list[Pair]:
    pairs: list[Pair] = []
    for ours, theirs in names.items():
        if isinstance(layer.get_submodule(ours), MultiHeadAttention):
            pairs += _prefixed(_MHA_PAIRS, f"{theirs}.", f"{ours}.")
        else:
            pairs += [(f"{theirs}.{p}", (f"{ours}.{p}",)) for p in ("weight", "bias")]
    return pairs


def name_pairs(module: Convertible) -> list[Pair]:
    """Every (torch.nn name, our names) pair `module` may have, before dropping absent biases.

    Raises ValueError for a module this table does not describe.
    """
    if isinstance(module, MultiHeadAttention):
        return list(_MHA_PAIRS)
    if isinstance(module, EncoderLayer):
        return _layer_pairs(module, ENCODER_LAYER_NAMES)
    if isinstance(module, DecoderLayer):
        names = DECODER_LAYER_NAMES if module.cross_attn is not None else DECODER_ONLY_LAYER_NAMES
        return _layer_pairs(module, names)
    if isinstance(module, Encoder | Decoder):
        pairs: list[Pair] = []
        for i, layer in enumerate(module.layers):
            pairs += _prefixed(name_pairs(layer), f"layers.{i}.", f"layers.{i}.")
        return pairs + [("norm.weight", ("norm.weight",)), ("norm.bias", ("norm.bias",))]
    raise ValueError(
        "expected MultiHeadAttention, EncoderLayer, DecoderLayer, Encoder or Decoder, "
        f"got {type(module).__name__}"
    )


def torch_state_dict(module: Convertible) -> dict[str, Tensor]:
    """Our module's weights under torch.nn's names (load them with `theirs.load_state_dict`)."""
    ours = module.state_dict()
    pairs = [(t, names) for t, names in name_pairs(module) if all(o in ours for o in names)]
    used = {o for _, names in pairs for o in names}
    left = sorted(set(ours) - used)
    if left:
        raise ValueError(f"no torch.nn name for these weights of {type(module).__name__}: {left}")
    # in_proj: 3 x (D, D) -> (3D, D); everything else is a rename
    return {t: torch.cat([ours[o] for o in names]) for t, names in pairs}


def load_torch_state_dict(module: Convertible, state_dict: dict[str, Tensor]) -> None:
    """Load weights named as torch.nn names them into our `module` (strict: every weight of ours
    must be given, and every given weight must be used)."""
    shapes = {name: t.shape for name, t in module.state_dict().items()}
    ours: dict[str, Tensor] = {}
    used: set[str] = set()
    wrong: list[str] = []
    for theirs, names in name_pairs(module):
        if theirs not in state_dict or not all(o in shapes for o in names):
            continue  # absent on one side: reported below as unused or missing
        used.add(theirs)
        tensor = state_dict[theirs]
        expected = (sum(shapes[o][0] for o in names), *shapes[names[0]][1:])
        if tuple(tensor.shape) != expected:
            wrong.append(f"{theirs}: {tuple(tensor.shape)}, expected {expected}")
            continue
        chunks = torch.split(tensor, [shapes[o][0] for o in names])  # (3D, D) -> 3 x (D, D)
        ours.update(zip(names, chunks, strict=True))
    kind = type(module).__name__
    unused = sorted(set(state_dict) - used)
    if unused:
        raise ValueError(f"these torch.nn weights have no place in our {kind}: {unused}")
    if wrong:
        raise ValueError(f"torch.nn weights of the wrong shape for our {kind}: {wrong}")
    missing = sorted(set(shapes) - set(ours))
    if missing:
        raise ValueError(f"the torch.nn weights lack these weights of our {kind}: {missing}")
    module.load_state_dict(ours, strict=True)


def load_from_torch(module: Convertible, theirs: nn.Module) -> None:
    """Copy the weights of a torch.nn module into the matching module of ours."""
    load_torch_state_dict(module, theirs.state_dict())


def _factory(module: nn.Module) -> dict[str, torch.device | torch.dtype]:
    p = next(module.parameters())
    return {"device": p.device, "dtype": p.dtype}


def _torch_activation(name: str) -> str | Callable[[Tensor], Tensor]:
    if name in ("relu", "gelu"):  # torch's "gelu" is the exact (erf) one, like ours
        return name
    if name == "gelu_tanh":
        return functools.partial(F.gelu, approximate="tanh")
    raise ValueError(f"activation {name!r} has no torch.nn equivalent")


def mha_to_torch(mha: MultiHeadAttention) -> nn.MultiheadAttention:
    """A torch.nn.MultiheadAttention (batch_first=True) with the weights of `mha`."""
    theirs = nn.MultiheadAttention(
        mha.d_model,
        mha.n_heads,
        dropout=mha.dropout,
        bias=mha.w_q.bias is not None,
        batch_first=True,
        **_factory(mha),
    )
    theirs.load_state_dict(torch_state_dict(mha), strict=True)
    return theirs.train(mha.training)


def _layer_kwargs(config: ModelConfig, module: nn.Module) -> dict[str, Any]:
    refuse_ablations(config, "torch.nn")
    if config.p_drop_attn != config.p_drop or config.p_drop_ff != config.p_drop:
        # torch.nn has one rate for attention weights, feed-forward hidden and residual dropout.
        logger.warning(
            "torch.nn layers use one dropout rate; exporting p_drop=%s (p_drop_attn=%s and "
            "p_drop_ff=%s differ: training-mode outputs will not match)",
            config.p_drop,
            config.p_drop_attn,
            config.p_drop_ff,
        )
    return dict(
        d_model=config.d_model,
        nhead=config.n_heads,
        dim_feedforward=config.d_ff,
        dropout=config.p_drop,
        activation=_torch_activation(config.activation),
        layer_norm_eps=config.layer_norm_eps,
        batch_first=True,
        norm_first=config.norm_first,
        bias=config.bias,
        **_factory(module),
    )


def _final_norm(config: ModelConfig, module: nn.Module) -> nn.LayerNorm | None:
    if not config.norm_first:
        return None
    return nn.LayerNorm(
        config.d_model, eps=config.layer_norm_eps, bias=config.bias, **_factory(module)
    )


def encoder_to_torch(encoder: Encoder, config: ModelConfig) -> nn.TransformerEncoder:
    """A torch.nn.TransformerEncoder with the weights of `encoder` (built from `config`).

    Nested tensors are disabled: with them torch's eval fast path returns zeros at padded
    positions, where ours computes a value (that no real position ever reads).
    """
    theirs = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(**_layer_kwargs(config, encoder)),
        num_layers=len(encoder.layers),
        norm=_final_norm(config, encoder),
        enable_nested_tensor=False,
    )
    theirs.load_state_dict(torch_state_dict(encoder), strict=True)
    return theirs.train(encoder.training)


def decoder_to_torch(
    decoder: Decoder, config: ModelConfig
) -> nn.TransformerDecoder | nn.TransformerEncoder:
    """A torch.nn.TransformerDecoder with the weights of `decoder` (built from `config`).

    A decoder without encoder-decoder attention (the decoder-only LM's) becomes a
    torch.nn.TransformerEncoder; run it with a causal mask (`is_causal=True`).
    Our decoder always applies the causal mask; pass torch's `tgt_mask` to match.
    """
    if not decoder.cross_attention:
        theirs: nn.Module = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(**_layer_kwargs(config, decoder)),
            num_layers=len(decoder.layers),
            norm=_final_norm(config, decoder),
            enable_nested_tensor=False,
        )
    else:
        theirs = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(**_layer_kwargs(config, decoder)),
            num_layers=len(decoder.layers),
            norm=_final_norm(config, decoder),
        )
    theirs.load_state_dict(torch_state_dict(decoder), strict=True)
    return theirs.train(decoder.training)


# --- masks ----------------------------------------------------------------------------------


def to_torch_key_padding_mask(tokens_or_mask: Tensor, pad_id: int | None = None) -> Tensor:
    """Our padding information -> torch's `key_padding_mask`, (B, S) bool, True = padding.

    Accepts (B, S) token ids with `pad_id`, a (B, S) bool mask True = real token, or our
    (B, 1, 1, S) padding mask.
    """
    x = tokens_or_mask
    if x.dtype != torch.bool:
        if pad_id is None:
            raise ValueError("token ids given without pad_id; pass pad_id or a bool mask")
        return x == pad_id
    if x.dim() == 4:
        if x.shape[1:3] != (1, 1):
            raise ValueError(f"expected a (B, 1, 1, S) padding mask, got shape {tuple(x.shape)}")
        x = x[:, 0, 0, :]  # (B, 1, 1, S) -> (B, S)
    if x.dim() != 2:
        raise ValueError(f"expected a (B, S) or (B, 1, 1, S) mask, got shape {tuple(x.shape)}")
    return ~x


def from_torch_key_padding_mask(key_padding_mask: Tensor) -> Tensor:
    """torch's (B, S) key_padding_mask, True = padding -> our (B, 1, 1, S), True = may attend."""
    if key_padding_mask.dtype != torch.bool or key_padding_mask.dim() != 2:
        raise ValueError(
            "expected a (B, S) bool key_padding_mask, got "
            f"{key_padding_mask.dtype} of shape {tuple(key_padding_mask.shape)}"
        )
    return ~key_padding_mask[:, None, None, :]


def to_torch_attn_mask(mask: Tensor, n_heads: int | None = None) -> Tensor:
    """Our mask (True = may attend) -> torch's bool `attn_mask` (True = may NOT attend).

    (T, S) -> (T, S). A (B, 1 or H, T, S) mask becomes (B * H, T, S), the 3-D shape
    torch.nn.MultiheadAttention takes, and needs `n_heads`.
    """
    if mask.dtype != torch.bool:
        raise ValueError(f"expected a bool mask, got {mask.dtype}")
    if mask.dim() == 2:
        return ~mask
    if mask.dim() == 4:
        if n_heads is None:
            raise ValueError("a (B, H, T, S) mask needs n_heads to become torch's 3-D attn_mask")
        B, _, T, S = mask.shape
        return ~mask.expand(B, n_heads, T, S).reshape(B * n_heads, T, S)  # -> (B * H, T, S)
    raise ValueError(f"expected a (T, S) or (B, H, T, S) mask, got shape {tuple(mask.shape)}")


__all__ = [
    "DECODER_LAYER_NAMES",
    "DECODER_ONLY_LAYER_NAMES",
    "ENCODER_LAYER_NAMES",
    "decoder_to_torch",
    "encoder_to_torch",
    "from_torch_key_padding_mask",
    "load_from_torch",
    "load_torch_state_dict",
    "mha_to_torch",
    "name_pairs",
    "to_torch_attn_mask",
    "to_torch_key_padding_mask",
    "torch_state_dict",
]
