"""Starting a classifier from a pretrained BERT: the folder's files, the fields it fixes, and the
model, ours or Hugging Face's.

`--init minilm` is the packaged all-MiniLM-L6-v2; `--init DIR` any Hugging Face BERT folder
(config.json, model.safetensors, tokenizer.json; aiayn.interop.hf_bert.bert_folder checks it).
A run copies the tokenizer and the BERT config into its directory, so it can be loaded, evaluated
and resumed without the folder; the pretrained weights are read once, when a new run starts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from torch import nn

from aiayn.config import ModelConfig
from aiayn.errors import AiaynError
from aiayn.interop.hf_bert import bert_folder, bert_model_config, load_bert_weights
from aiayn.interop.hf_classifier import HFClassifier, transformers_module
from aiayn.models import EncoderClassifier

BACKENDS: tuple[str, ...] = ("aiayn", "hf")
BERT_CONFIG = "bert_config.json"  # the run's copy of the folder's config.json

# ModelConfig fields that a BERT checkpoint fixes (the dropouts stay settings of the run).
CHECKPOINT_FIELDS: tuple[str, ...] = (
    "vocab_size",
    "d_model",
    "n_heads",
    "d_ff",
    "n_layers",
    "max_len",
    "activation",
    "positional",
    "norm_first",
    "layer_norm_eps",
    "scale_embeddings",
    "embedding_norm",
    "type_vocab_size",
    "pad_id",
    "n_classes",
    "pooling",
    "pooler",
)
BERT_HEAD: dict[str, Any] = {"pooling": "cls", "pooler": True}
ENCODER_FIELDS: tuple[str, ...] = tuple(k for k in CHECKPOINT_FIELDS if k not in BERT_HEAD)

# The measured recipes (docs/classification.md): fine-tuning, and training from scratch.
FINE_TUNE: dict[str, Any] = {
    "max_steps": 5700,  # about 5 epochs of SST-2 (58 sentences a batch on average)
    "batch_tokens": 1024,
    "batch_size": 64,  # at most this many sentences a batch (the many short phrases)
    "lr_schedule": "cosine",
    "lr": 5e-5,
    "min_lr": 0.0,
    "warmup_steps": 342,  # 6%
    "beta2": 0.999,
    "eps": 1e-8,
    "weight_decay": 0.01,  # BERT's
    "label_smoothing": 0.0,
    "clip_grad_norm": 1.0,
    "eval_every": 500,
    "log_every": 50,
    "checkpoint_every": 500,
    "keep_checkpoints": 5,  # for `aiayn average RUN --last 5`
}
FROM_SCRATCH: dict[str, Any] = {
    **FINE_TUNE,
    "max_steps": 3000,
    "batch_tokens": 2048,
    "lr": 5e-4,
    "warmup_steps": 300,
    "weight_decay": 0.0,
    "eval_every": 250,
    "keep_checkpoints": 2,
}
# BERT's dropouts and head; our encoder may change the head (e.g. pooling=mean)
FINE_TUNE_MODEL: dict[str, Any] = {"p_drop": 0.1, "p_drop_attn": 0.1, "p_drop_ff": 0.0, **BERT_HEAD}


def check_backend(init: str | None, backend: str) -> None:
    if backend not in BACKENDS:
        raise AiaynError(f"--backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "hf" and init is None:
        raise AiaynError("--backend hf fine-tunes a pretrained model: add --init minilm or DIR")


def copy_into_run(init: str, run_dir: Path, *, n_classes: int, backend: str) -> dict[str, Any]:
    """Copy the folder's tokenizer and config into the run; return the ModelConfig fields the
    checkpoint fixes (all of BERT's head too with the HF backend, whose head is built in)."""
    folder = bert_folder(init)
    if backend == "hf":
        transformers_module()  # fail now, in one line, if it is not installed
    (run_dir / "tokenizer").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / "tokenizer.json", run_dir / "tokenizer" / "tokenizer.json")
    shutil.copyfile(folder / "config.json", run_dir / BERT_CONFIG)
    hf_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    try:
        bert = bert_model_config(hf_config, n_classes=n_classes, pooler=True).to_dict()
    except ValueError as e:
        raise AiaynError(f"--init {folder}: {e}") from None
    fixed = CHECKPOINT_FIELDS if backend == "hf" else ENCODER_FIELDS
    return {k: bert[k] for k in fixed}


def build_classifier(
    config: ModelConfig, *, init: str | None, backend: str, run_dir: Path | None, fresh: bool
) -> nn.Module:
    """Our EncoderClassifier or the wrapped HF model. `fresh`: a new run, which starts from the
    pretrained weights; otherwise the run's own weights are loaded afterwards (load_run,
    resume), so the pretrained folder is not read."""
    if backend == "hf":
        return _build_hf(config, init=init, run_dir=run_dir, fresh=fresh)
    model = EncoderClassifier(config)
    if init is not None and fresh:
        from safetensors.torch import load_file

        load_bert_weights(model, load_file(str(bert_folder(init) / "model.safetensors")))
    return model


def _build_hf(
    config: ModelConfig, *, init: str | None, run_dir: Path | None, fresh: bool
) -> HFClassifier:
    tf = transformers_module()
    if run_dir is None:
        raise AiaynError("the HF backend builds its model only after prepare() or load()")
    dropouts = {
        "num_labels": config.n_classes,
        "hidden_dropout_prob": config.p_drop,
        "attention_probs_dropout_prob": config.p_drop_attn,
    }
    if fresh:
        hf = tf.AutoModelForSequenceClassification.from_pretrained(
            str(bert_folder(init)), **dropouts
        )
    else:
        # Rebuild from the run's copy of the BERT config; the run's weights go in next.
        hf_config = tf.BertConfig.from_json_file(str(run_dir / BERT_CONFIG))
        for key, value in dropouts.items():
            setattr(hf_config, key, value)
        hf = tf.AutoModelForSequenceClassification.from_config(hf_config)
    return HFClassifier(hf, config)


def wordpiece_tokenizer(run_dir: Path, max_seq_len: int) -> tuple[Any, int]:
    """The run's copy of the pretrained tokenizer (HF `tokenizers`) and its [PAD] id."""
    from tokenizers import Tokenizer as HFTokenizer

    path = run_dir / "tokenizer" / "tokenizer.json"
    if not path.is_file():
        raise AiaynError(f"{run_dir} has no tokenizer ({path}); was it trained?")
    tok = HFTokenizer.from_file(str(path))
    tok.no_padding()  # a packaged file may pad every sentence to 128; we pad per batch
    tok.enable_truncation(max_length=max_seq_len)  # keeps [CLS] .. [SEP]
    pad = tok.token_to_id("[PAD]")
    return tok, 0 if pad is None else pad


__all__ = [
    "BACKENDS",
    "FINE_TUNE",
    "FINE_TUNE_MODEL",
    "FROM_SCRATCH",
    "build_classifier",
    "check_backend",
    "copy_into_run",
    "wordpiece_tokenizer",
]
