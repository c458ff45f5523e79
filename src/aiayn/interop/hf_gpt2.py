"""Our decoder-only language model as a Hugging Face `GPT2LMHeadModel`, with the same logits.

GPT-2 is our decoder-only stack with `norm_first=True` (pre-norm, a final LayerNorm `ln_f`),
unscaled embeddings and an output projection tied to the token embedding. The mapping:

    ours                                    GPT-2 (Conv1D stores (in, out): our weight transposed)
    embed.token.weight (V, D)               transformer.wte.weight
    embed.position (max_len, D)             transformer.wpe.weight
    layers.i.sublayer_self_attn.norm        h.i.ln_1
    layers.i.self_attn.w_q, w_k, w_v        h.i.attn.c_attn (D, 3D): [W_q; W_k; W_v]^T
    layers.i.self_attn.w_o                  h.i.attn.c_proj: W_o^T
    layers.i.sublayer_ff.norm               h.i.ln_2
    layers.i.feed_forward.w_1, w_2          h.i.mlp.c_fc, h.i.mlp.c_proj: transposed
    decoder.norm                            transformer.ln_f
    generator.weight                        lm_head.weight (tied to wte unless tie_output=False)

GPT-2's position table is a learned matrix, stored and loaded: a model with sinusoidal positions
exports with the sinusoidal table as that matrix (the same function; fine-tuning would then train
it). A model without biases exports with zero biases. The activation maps to the same function
(`gelu_tanh` -> "gelu_pytorch_tanh", `gelu` -> "gelu", `relu` -> "relu"). Refused, naming the
field: post-norm, embeddings scaled by sqrt(d_model), an embedding LayerNorm, token types,
dropout after the feed-forward activation (GPT-2 has none there).
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
from aiayn.models.decoder_only import DecoderOnlyLM

if TYPE_CHECKING:
    from transformers import GPT2Config, GPT2LMHeadModel

logger = logging.getLogger(__name__)

_ACTIVATIONS = {"relu": "relu", "gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh"}


def _refuse(field: str, value: object, why: str) -> AiaynError:
    return refusal(field, value, "GPT-2", why)


def gpt2_config(
    config: ModelConfig, *, bos_id: int | None = None, eos_id: int | None = None
) -> GPT2Config:
    """The `GPT2Config` of a model with our `config`; AiaynError names a field it cannot express.

    `bos_id` / `eos_id` (None: none) become GPT-2's special ids; with `eos_id`, `generate`
    stops a row at it, as our `generate(..., eos_id=...)` does.
    """
    transformers = require_transformers()
    c = config
    if c.arch != "decoder-only":
        raise _refuse("arch", c.arch, "GPT-2 is a decoder-only language model")
    if not c.norm_first:
        raise _refuse("norm_first", c.norm_first, "GPT-2's layers are pre-norm only")
    if c.scale_embeddings:
        raise _refuse("scale_embeddings", c.scale_embeddings, "GPT-2 does not scale embeddings")
    if c.embedding_norm:
        raise _refuse("embedding_norm", c.embedding_norm, "GPT-2 has no embedding LayerNorm")
    if c.type_vocab_size:
        raise _refuse("type_vocab_size", c.type_vocab_size, "GPT-2 has no token-type embeddings")
    if c.p_drop_ff:
        raise _refuse("p_drop_ff", c.p_drop_ff, "GPT-2 has no dropout after the activation")
    refuse_ablations(c, "GPT-2")
    for name, value in (("bos_id", bos_id), ("eos_id", eos_id)):
        if value is not None and not 0 <= value < c.vocab_size:
            raise ValueError(f"{name} must be in [0, {c.vocab_size}) or None, got {value}")
    return transformers.GPT2Config(
        vocab_size=c.vocab_size,
        n_positions=c.max_len,
        n_embd=c.d_model,
        n_layer=c.decoder_layers,
        n_head=c.n_heads,
        n_inner=c.d_ff,
        activation_function=_ACTIVATIONS[c.activation],
        resid_pdrop=c.p_drop,
        embd_pdrop=c.p_drop,
        attn_pdrop=c.p_drop_attn,
        layer_norm_epsilon=c.layer_norm_eps,
        scale_attn_weights=True,  # 1 / sqrt(d_k), as ours
        scale_attn_by_inverse_layer_idx=False,
        reorder_and_upcast_attn=False,
        tie_word_embeddings=c.tie_output,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=c.pad_id,
    )


def _position_table(model: DecoderOnlyLM) -> Tensor:
    """(max_len, D): the learned matrix, or the sinusoidal table as one."""
    position = model.embed.position
    table = position.weight if hasattr(position, "weight") else position.pe
    return table.detach().float().cpu()


def _layer_weights(ours: dict[str, Tensor], i: int, prefix: str) -> dict[str, Tensor]:
    """GPT-2's weights of layer i from ours; a missing bias (bias=False) becomes zeros."""
    p = f"decoder.layers.{i}."

    def linear(name: str) -> tuple[Tensor, Tensor]:  # (out, in) weight -> Conv1D's (in, out)
        weight = ours[f"{p}{name}.weight"]
        bias = ours.get(f"{p}{name}.bias", torch.zeros(weight.size(0)))
        return weight.t(), bias

    def norm(name: str) -> tuple[Tensor, Tensor]:
        weight = ours[f"{p}{name}.weight"]
        return weight, ours.get(f"{p}{name}.bias", torch.zeros_like(weight))

    q, k, v = (linear(f"self_attn.w_{x}") for x in "qkv")
    out: dict[str, Tensor] = {}
    out["attn.c_attn.weight"] = torch.cat([q[0], k[0], v[0]], dim=1)  # 3 x (D, D) -> (D, 3D)
    out["attn.c_attn.bias"] = torch.cat([q[1], k[1], v[1]])  # 3 x (D,) -> (3D,)
    for theirs, name, kind in (
        ("attn.c_proj", "self_attn.w_o", linear),
        ("mlp.c_fc", "feed_forward.w_1", linear),
        ("mlp.c_proj", "feed_forward.w_2", linear),
        ("ln_1", "sublayer_self_attn.norm", norm),
        ("ln_2", "sublayer_ff.norm", norm),
    ):
        out[f"{theirs}.weight"], out[f"{theirs}.bias"] = kind(name)
    return {f"{prefix}{i}.{k}": v for k, v in out.items()}


def to_gpt2(
    model: DecoderOnlyLM, *, bos_id: int | None = None, eos_id: int | None = None
) -> GPT2LMHeadModel:
    """A `GPT2LMHeadModel` (in eval mode, on the CPU, fp32) computing the same logits as `model`."""
    if not isinstance(model, DecoderOnlyLM):
        raise TypeError(f"to_gpt2 needs a DecoderOnlyLM, got {type(model).__name__}")
    transformers = require_transformers()
    c = model.config
    hf = transformers.GPT2LMHeadModel(gpt2_config(c, bos_id=bos_id, eos_id=eos_id))
    ours = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    new: dict[str, Tensor] = {
        "transformer.wte.weight": ours["embed.token.weight"],
        "transformer.wpe.weight": _position_table(model),
        "transformer.ln_f.weight": ours["decoder.norm.weight"],
        "transformer.ln_f.bias": ours.get(
            "decoder.norm.bias", torch.zeros_like(ours["decoder.norm.weight"])
        ),
        "lm_head.weight": ours["generator.weight"],
    }
    for i in range(c.decoder_layers):
        new.update(_layer_weights(ours, i, "transformer.h."))
    target = hf.state_dict()
    unknown, missing = sorted(set(new) - set(target)), sorted(set(target) - set(new))
    if unknown or missing:
        raise AiaynError(
            f"the GPT-2 export does not fit transformers {transformers.__version__}: "
            f"unknown weights {unknown}, unset weights {missing}"
        )
    hf.load_state_dict(new, strict=True)
    return hf.eval()


def save_gpt2(
    model: DecoderOnlyLM,
    directory: str | Path,
    *,
    tokenizer_json: str | Path | None = None,
    bos_id: int | None = None,
    eos_id: int | None = None,
) -> Path:
    """Write `model` as a folder that `GPT2LMHeadModel.from_pretrained(directory)` loads.

    config.json, model.safetensors, generation_config.json (greedy); with `tokenizer_json` (an
    aiayn BPE tokenizer's tokenizer.json) also the files `PreTrainedTokenizerFast` reads, adding
    no special token, as our language-model tasks encode prompts. Returns the directory.
    """
    directory = Path(directory)
    hf = to_gpt2(model, bos_id=bos_id, eos_id=eos_id)
    gen = hf.generation_config
    gen.max_length = model.config.max_len
    gen.num_beams, gen.do_sample = 1, False
    hf.save_pretrained(str(directory))
    if tokenizer_json is not None:
        save_tokenizer(
            tokenizer_json, directory, model_max_length=model.config.max_len, append_eos=False
        )
    logger.info("wrote a GPT2LMHeadModel to %s", directory)
    return directory


__all__ = ["gpt2_config", "save_gpt2", "to_gpt2"]
