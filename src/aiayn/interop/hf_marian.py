"""Our encoder-decoder as a Hugging Face `MarianMTModel`, and back, with the same logits.

Marian (as Hugging Face implements it) is the paper's Transformer: post-norm layers, fixed
sinusoidal positions, embeddings optionally scaled by sqrt(d_model), attention scaled by
1/sqrt(d_k), an output projection tied to the target embedding plus a `final_logits_bias`
(zero here: ours has no bias). What differs is the layout of the sinusoidal table:

    ours (the paper, section 3.5)   dimension 2i: sin(pos / 10000^(2i/D)), 2i+1: cos(same angle)
    Marian                          dimension i:  sin(...),  D/2 + i:    cos(...)  (the halves)

Marian does not save its table: `save_pretrained` leaves `embed_positions.weight` out, and
`from_pretrained` rebuilds it from the formula. (It would load a table found in the file, but
the next save would drop it again and silently bring the halves back.) So the table is not
copied; instead the exported model works in a permuted basis of the model dimension. With P the
permutation "even dimensions, then odd ones", Marian's table is ours with its columns in the
order P, and every weight is permuted the same way:

    token embedding, output projection, and every linear layer that reads the residual stream
    (W_q, W_k, W_v, W_1; cross-attention's W_k, W_v read the encoder output): columns by P
    linear layers that write into it (W_o, W_2): rows and bias by P
    LayerNorm gain and bias: by P (its mean and variance do not depend on the order)

Then each hidden state of the Marian model is ours with its dimensions in the order P, and the
logits (a dot product over the model dimension) are the same, up to float rounding of sums taken
in another order. Hidden states read from the Marian model are in that permuted order.

The special ids: aiayn starts decoding with <bos>, so the export sets Marian's
`decoder_start_token_id` to it (Marian checkpoints start with <pad>), and `forced_eos_token_id`
to None (Marian's default forces <eos> at the length limit; our greedy decoding does not).

Configurations Marian cannot express exactly are refused, naming the field: pre-norm, learned
positions, a LayerNorm eps other than torch's default (Marian's is fixed), a LayerNorm on the
embeddings, token-type embeddings. A model without biases exports with zero biases (the same
function). One difference is in training only: Marian's embeddings keep the <pad> row's gradient
at zero (`padding_idx`); ours train it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from aiayn.config import ModelConfig
from aiayn.errors import AiaynError
from aiayn.interop._hf_files import (
    refusal,
    refuse_ablations,
    require_transformers,
    save_tokenizer,
)
from aiayn.models.encoder_decoder import EncoderDecoder
from aiayn.nn.positional_encoding import sinusoidal_positional_encoding
from aiayn.tokenizers.base import BOS_ID, EOS_ID

if TYPE_CHECKING:
    from transformers import MarianConfig, MarianMTModel

logger = logging.getLogger(__name__)

LAYER_NORM_EPS = 1e-5  # Marian's nn.LayerNorm(d_model), with torch's default eps

# our activation -> Marian's `activation_function` (the same function in both)
_ACTIVATIONS = {"relu": "relu", "gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh"}
# Marian's -> ours; "gelu_new" is the tanh approximation written out, the same function
_FROM_MARIAN_ACTIVATIONS = {
    "relu": "relu",
    "gelu": "gelu",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_new": "gelu_tanh",
}

# (our ModelConfig field, MarianConfig's) where one value passes unchanged, read both ways. Marian
# has a head count and a feed-forward width per stack; ours has one of each, checked equal when
# a MarianConfig is read.
_SAME_VALUE: tuple[tuple[str, str], ...] = (
    ("vocab_size", "vocab_size"),
    ("d_model", "d_model"),
    ("n_heads", "encoder_attention_heads"),
    ("n_heads", "decoder_attention_heads"),
    ("d_ff", "encoder_ffn_dim"),
    ("d_ff", "decoder_ffn_dim"),
    ("n_layers", "encoder_layers"),
    ("max_len", "max_position_embeddings"),
    ("scale_embeddings", "scale_embedding"),
    ("share_embeddings", "share_encoder_decoder_embeddings"),
    ("tie_output", "tie_word_embeddings"),
    ("pad_id", "pad_token_id"),
)
# dropout rates (ours are floats; a MarianConfig may hold an int 0)
_DROPOUTS: tuple[tuple[str, str], ...] = (
    ("p_drop", "dropout"),
    ("p_drop_attn", "attention_dropout"),
    ("p_drop_ff", "activation_dropout"),
)

# How a module touches the residual stream, and so which of its axes the permutation P moves:
# "reads" (a linear layer's input: weight columns), "writes" (its output: weight rows and bias),
# "norm" (a LayerNorm: gain and bias).
_ENCODER_LAYER = [
    ("self_attn.w_q", "self_attn.q_proj", "reads"),
    ("self_attn.w_k", "self_attn.k_proj", "reads"),
    ("self_attn.w_v", "self_attn.v_proj", "reads"),
    ("self_attn.w_o", "self_attn.out_proj", "writes"),
    ("sublayer_attn.norm", "self_attn_layer_norm", "norm"),
    ("feed_forward.w_1", "fc1", "reads"),
    ("feed_forward.w_2", "fc2", "writes"),
    ("sublayer_ff.norm", "final_layer_norm", "norm"),
]
_DECODER_LAYER = [
    ("self_attn.w_q", "self_attn.q_proj", "reads"),
    ("self_attn.w_k", "self_attn.k_proj", "reads"),
    ("self_attn.w_v", "self_attn.v_proj", "reads"),
    ("self_attn.w_o", "self_attn.out_proj", "writes"),
    ("sublayer_self_attn.norm", "self_attn_layer_norm", "norm"),
    ("cross_attn.w_q", "encoder_attn.q_proj", "reads"),
    ("cross_attn.w_k", "encoder_attn.k_proj", "reads"),
    ("cross_attn.w_v", "encoder_attn.v_proj", "reads"),
    ("cross_attn.w_o", "encoder_attn.out_proj", "writes"),
    ("sublayer_cross_attn.norm", "encoder_attn_layer_norm", "norm"),
    ("feed_forward.w_1", "fc1", "reads"),
    ("feed_forward.w_2", "fc2", "writes"),
    ("sublayer_ff.norm", "final_layer_norm", "norm"),
]


def marian_order(d_model: int) -> Tensor:
    """P, the (D,) permutation with Marian's sinusoidal table = ours[:, P]: even dims, then odd."""
    return torch.cat([torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)])


def _refuse(field: str, value: object, why: str) -> AiaynError:
    return refusal(field, value, "Marian", why)


def marian_config(
    config: ModelConfig,
    *,
    bos_id: int = BOS_ID,
    eos_id: int = EOS_ID,
    pad_id: int | None = None,
    decoder_start_token_id: int | None = None,
) -> MarianConfig:
    """The `MarianConfig` of a model with our `config`; AiaynError names a field it cannot express.

    `pad_id` defaults to (and must equal) `config.pad_id`; `decoder_start_token_id` defaults to
    `bos_id`, the token our decoding starts with.
    """
    transformers = require_transformers()
    c = config
    if c.arch != "encoder-decoder":
        raise _refuse("arch", c.arch, "Marian is an encoder-decoder")
    if c.norm_first:
        raise _refuse("norm_first", c.norm_first, "Marian's layers are post-norm only")
    if c.positional != "sinusoidal":
        raise _refuse("positional", c.positional, "Marian's positions are the sinusoidal table")
    if c.layer_norm_eps != LAYER_NORM_EPS:
        raise _refuse("layer_norm_eps", c.layer_norm_eps, f"Marian's is fixed at {LAYER_NORM_EPS}")
    if c.embedding_norm:
        raise _refuse("embedding_norm", c.embedding_norm, "Marian has no embedding LayerNorm")
    if c.type_vocab_size:
        raise _refuse("type_vocab_size", c.type_vocab_size, "Marian has no token types")
    refuse_ablations(c, "Marian")
    if pad_id is not None and pad_id != c.pad_id:
        raise ValueError(f"pad_id must be the model's pad_id {c.pad_id}, got {pad_id}")
    for name, value in (("bos_id", bos_id), ("eos_id", eos_id)):
        if not 0 <= value < c.target_vocab_size:
            raise ValueError(f"{name} must be in [0, {c.target_vocab_size}), got {value}")
    return transformers.MarianConfig(
        **{theirs: getattr(c, ours) for ours, theirs in _SAME_VALUE + _DROPOUTS},
        decoder_vocab_size=c.target_vocab_size,
        decoder_layers=c.decoder_layers,
        activation_function=_ACTIVATIONS[c.activation],
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        decoder_start_token_id=bos_id if decoder_start_token_id is None else decoder_start_token_id,
        forced_eos_token_id=None,
    )


def _name_pairs(config: ModelConfig) -> list[tuple[str, str, str]]:
    """(our module, Marian's module, role) for every layer of both stacks."""
    pairs = []
    for i in range(config.n_layers):
        for ours, theirs, role in _ENCODER_LAYER:
            pairs.append((f"encoder.layers.{i}.{ours}", f"model.encoder.layers.{i}.{theirs}", role))
    for i in range(config.decoder_layers):
        for ours, theirs, role in _DECODER_LAYER:
            pairs.append((f"decoder.layers.{i}.{ours}", f"model.decoder.layers.{i}.{theirs}", role))
    return pairs


def _embedding_pairs(config: ModelConfig) -> list[tuple[str, str]]:
    """(our matrix, Marian's matrix): token embeddings and the output projection, all (V, D)."""
    if config.share_embeddings:
        inputs = [
            ("src_embed.token.weight", "model.shared.weight"),
            ("src_embed.token.weight", "model.encoder.embed_tokens.weight"),
            ("src_embed.token.weight", "model.decoder.embed_tokens.weight"),
        ]
    else:
        inputs = [
            ("src_embed.token.weight", "model.encoder.embed_tokens.weight"),
            ("tgt_embed.token.weight", "model.decoder.embed_tokens.weight"),
        ]
    return [*inputs, ("generator.weight", "lm_head.weight")]


def _move(tensor: Tensor, role: str, param: str, order: Tensor) -> Tensor:
    """Apply the permutation `order` to the axis of `tensor` that lies in the model dimension."""
    if role == "reads":
        return tensor[:, order] if param == "weight" else tensor  # (out, D) -> columns; bias: out
    return tensor[order]  # "writes" (D, in) rows and (D,) bias; "norm" (D,) gain and bias


def _check_positions(hf: MarianMTModel, d_model: int, max_len: int) -> None:
    """Marian's tables must be ours in the order P; a transformers release that changed the
    layout would otherwise give a model that silently differs."""
    expected = sinusoidal_positional_encoding(max_len, d_model)[:, marian_order(d_model)]
    for side in ("encoder", "decoder"):
        table = getattr(hf.model, side).embed_positions.weight.detach().float().cpu()
        if table.shape != expected.shape or not torch.allclose(table, expected, atol=1e-5):
            raise AiaynError(
                f"Marian's {side}.embed_positions is not the sinusoidal table in the layout this "
                f"export expects (sines, then cosines); transformers "
                f"{require_transformers().__version__} may have changed it"
            )


def to_marian(
    model: EncoderDecoder,
    *,
    bos_id: int = BOS_ID,
    eos_id: int = EOS_ID,
    decoder_start_token_id: int | None = None,
) -> MarianMTModel:
    """A `MarianMTModel` (in eval mode, on the CPU, fp32) computing the same logits as `model`."""
    if not isinstance(model, EncoderDecoder):
        raise TypeError(f"to_marian needs an EncoderDecoder, got {type(model).__name__}")
    transformers = require_transformers()
    c = model.config
    hf_config = marian_config(
        c, bos_id=bos_id, eos_id=eos_id, decoder_start_token_id=decoder_start_token_id
    )
    hf = transformers.MarianMTModel(hf_config)
    _check_positions(hf, c.d_model, c.max_len)
    order = marian_order(c.d_model)
    ours = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    target = hf.state_dict()
    new: dict[str, Tensor] = {}
    for ours_name, hf_name, role in _name_pairs(c):
        for param in ("weight", "bias"):
            key = f"{ours_name}.{param}"
            if key in ours:
                new[f"{hf_name}.{param}"] = _move(ours[key], role, param, order)
            else:  # bias=False: a zero bias computes the same function
                new[f"{hf_name}.{param}"] = torch.zeros_like(target[f"{hf_name}.{param}"])
    for ours_name, hf_name in _embedding_pairs(c):
        new[hf_name] = ours[ours_name][:, order]  # (V, D): columns by P
    new["final_logits_bias"] = torch.zeros_like(target["final_logits_bias"])
    for side in ("encoder", "decoder"):  # Marian's own tables, already ours in the order P
        key = f"model.{side}.embed_positions.weight"
        new[key] = target[key]
    missing = sorted(set(target) - set(new))
    if missing:
        raise AiaynError(f"the Marian export left weights unset: {', '.join(missing)}")
    hf.load_state_dict(new, strict=True)
    return hf.eval()


def _model_config(hf_config: MarianConfig) -> ModelConfig:
    """Our ModelConfig of a MarianConfig; AiaynError names a setting ours cannot express."""
    h = hf_config
    act = h.activation_function
    if act not in _FROM_MARIAN_ACTIVATIONS:
        known = sorted(_FROM_MARIAN_ACTIVATIONS)
        raise AiaynError(f"activation_function={act!r} has no equivalent here; known: {known}")
    for ours, theirs in (
        ("encoder_attention_heads", "decoder_attention_heads"),
        ("encoder_ffn_dim", "decoder_ffn_dim"),
    ):
        if getattr(h, ours) != getattr(h, theirs):
            raise AiaynError(
                f"{ours}={getattr(h, ours)} differs from {theirs}={getattr(h, theirs)}; "
                "our encoder and decoder share one value"
            )
    for name in ("encoder_layerdrop", "decoder_layerdrop"):
        if getattr(h, name):
            raise AiaynError(f"{name}={getattr(h, name)!r}: layer drop has no equivalent here")
    return ModelConfig(
        arch="encoder-decoder",
        **{ours: getattr(h, theirs) for ours, theirs in _SAME_VALUE},
        **{ours: float(getattr(h, theirs)) for ours, theirs in _DROPOUTS},
        tgt_vocab_size=None if h.share_encoder_decoder_embeddings else h.decoder_vocab_size,
        n_decoder_layers=h.decoder_layers,
        activation=_FROM_MARIAN_ACTIVATIONS[act],
    )


def from_marian(hf: MarianMTModel) -> EncoderDecoder:
    """Our EncoderDecoder (in eval mode) computing the same logits as a `MarianMTModel`.

    Refuses (AiaynError, naming the field) a non-zero `final_logits_bias`, which our output
    projection has no place for, and settings ours cannot express (see `_model_config`).
    """
    c = _model_config(hf.config)
    if c.max_len != hf.model.encoder.embed_positions.weight.size(0):
        raise AiaynError("the Marian model's position table does not match its config")
    _check_positions(hf, c.d_model, c.max_len)
    theirs = {k: v.detach().float().cpu() for k, v in hf.state_dict().items()}
    if theirs["final_logits_bias"].abs().max() > 0:
        raise AiaynError("final_logits_bias is not zero: our output projection has no bias")
    back = torch.argsort(marian_order(c.d_model))  # P^-1
    model = EncoderDecoder(c)
    new: dict[str, Tensor] = {}
    for ours_name, hf_name, role in _name_pairs(c):
        for param in ("weight", "bias"):
            new[f"{ours_name}.{param}"] = _move(theirs[f"{hf_name}.{param}"], role, param, back)
    for ours_name, hf_name in _embedding_pairs(c):
        new[ours_name] = theirs[hf_name][:, back]
    if c.share_embeddings:
        new["tgt_embed.token.weight"] = new["src_embed.token.weight"]
    model.load_state_dict(new, strict=True)
    return model.eval()


def save_marian(
    model: EncoderDecoder,
    directory: str | Path,
    *,
    tokenizer_json: str | Path | None = None,
    bos_id: int = BOS_ID,
    eos_id: int = EOS_ID,
    decoder_start_token_id: int | None = None,
) -> Path:
    """Write `model` as a folder that `MarianMTModel.from_pretrained(directory)` loads.

    The folder holds config.json, model.safetensors and generation_config.json (greedy, up to
    the model's max_len tokens). With `tokenizer_json` (an aiayn BPE tokenizer's
    tokenizer.json), it also holds the files `PreTrainedTokenizerFast.from_pretrained` (and
    `AutoTokenizer`) reads, set to end each source text with <eos> as our translation task
    does: the folder then translates text with `generate`. Returns the directory.
    """
    directory = Path(directory)
    hf = to_marian(
        model, bos_id=bos_id, eos_id=eos_id, decoder_start_token_id=decoder_start_token_id
    )
    gen = hf.generation_config
    gen.max_length = model.config.max_len
    gen.num_beams, gen.do_sample, gen.forced_eos_token_id = 1, False, None
    hf.save_pretrained(str(directory))
    if tokenizer_json is not None:
        save_tokenizer(
            tokenizer_json, directory, model_max_length=model.config.max_len, append_eos=True
        )
    logger.info("wrote a MarianMTModel to %s", directory)
    return directory


__all__ = ["from_marian", "marian_config", "marian_order", "save_marian", "to_marian"]
