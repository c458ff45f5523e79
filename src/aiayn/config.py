"""Typed, frozen configuration for every model aiayn builds, and the named presets.

One `ModelConfig` describes all three architectures; `arch` picks which. Every field that departs
from the paper is an explicit option whose default *is* the paper (post-norm, ReLU, sinusoidal
positions, embeddings scaled by sqrt(d_model), no attention dropout).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Literal, Self

Arch = Literal["encoder-decoder", "decoder-only", "encoder-classifier"]
ARCHS: tuple[str, ...] = ("encoder-decoder", "decoder-only", "encoder-classifier")
ACTIVATIONS: tuple[str, ...] = ("relu", "gelu", "gelu_tanh")
POSITIONALS: tuple[str, ...] = ("sinusoidal", "learned")
POOLINGS: tuple[str, ...] = ("cls", "mean", "max")


class _ConfigMethods:
    """Copying, serialising and strict loading, shared by the config dataclasses."""

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict, rejecting unknown keys (a typo must not be silently ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class ModelConfig(_ConfigMethods):
    """The hyper-parameters of one Transformer, in the paper's names.

    `vocab_size` is the source vocabulary (or the only one); `tgt_vocab_size` the target one of an
    encoder-decoder, `None` meaning "same as the source" (a shared vocabulary, as in the paper).
    """

    arch: Arch = "encoder-decoder"
    vocab_size: int = 37000
    tgt_vocab_size: int | None = None
    d_model: int = 512
    n_heads: int = 8
    d_ff: int = 2048
    n_layers: int = 6  # N in the paper: layers in the encoder and in the decoder
    n_decoder_layers: int | None = None  # None: same as n_layers
    max_len: int = 512
    p_drop: float = 0.1  # P_drop: sub-layer outputs and the embedding sums (section 5.4)
    p_drop_attn: float = 0.0  # dropout on attention weights (not in the paper)
    p_drop_ff: float = 0.0  # dropout after the feed-forward activation (not in the paper)
    activation: str = "relu"
    positional: str = "sinusoidal"
    norm_first: bool = False  # False: the paper's post-norm, LayerNorm(x + Sublayer(x))
    layer_norm_eps: float = 1e-5
    scale_embeddings: bool = True  # multiply embeddings by sqrt(d_model) (section 3.4)
    embedding_norm: bool = False  # LayerNorm on the embedding sum (BERT)
    type_vocab_size: int = 0  # segment / token-type embeddings (BERT); 0 means none
    share_embeddings: bool = True  # encoder and decoder share one embedding matrix (section 3.4)
    tie_output: bool = True  # pre-softmax projection tied to the target embedding (section 3.4)
    bias: bool = True  # biases in the linear layers and LayerNorms
    pad_id: int = 0
    # encoder-classifier only
    n_classes: int = 2
    pooling: str = "cls"  # "cls": first token; "mean" / "max": over the real tokens
    pooler: bool = False  # BERT's tanh-dense layer on the pooled vector

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        for name in ("vocab_size", "d_model", "n_heads", "d_ff", "n_layers", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("tgt_vocab_size", "n_decoder_layers"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if self.d_model % self.n_heads != 0:
            raise ValueError(
                f"d_model={self.d_model} must be divisible by n_heads={self.n_heads} "
                f"(each head has d_k = d_model / n_heads)"
            )
        for name in ("p_drop", "p_drop_attn", "p_drop_ff"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.positional not in POSITIONALS:
            raise ValueError(f"positional must be one of {POSITIONALS}, got {self.positional!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.layer_norm_eps <= 0:
            raise ValueError(f"layer_norm_eps must be positive, got {self.layer_norm_eps!r}")
        if self.type_vocab_size < 0:
            raise ValueError(f"type_vocab_size must be >= 0, got {self.type_vocab_size!r}")
        if self.n_classes < 2 and self.arch == "encoder-classifier":
            raise ValueError(f"n_classes must be >= 2, got {self.n_classes!r}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"pad_id must be in [0, vocab_size), got {self.pad_id!r}")
        if (
            self.arch == "encoder-decoder"
            and self.share_embeddings
            and self.tgt_vocab_size not in (None, self.vocab_size)
        ):
            raise ValueError(
                "share_embeddings needs one vocabulary, but tgt_vocab_size="
                f"{self.tgt_vocab_size} differs from vocab_size={self.vocab_size}"
            )

    @property
    def d_k(self) -> int:
        """Size of each head's queries, keys and values (d_k = d_v = d_model / h)."""
        return self.d_model // self.n_heads

    @property
    def target_vocab_size(self) -> int:
        return self.tgt_vocab_size or self.vocab_size

    @property
    def decoder_layers(self) -> int:
        return self.n_decoder_layers or self.n_layers


# Named presets. The paper's two (Table 3) and small ones that train on a CPU.
MODEL_PRESETS: dict[str, ModelConfig] = {
    "paper-base": ModelConfig(),
    "paper-big": ModelConfig(d_model=1024, n_heads=16, d_ff=4096, p_drop=0.3),
    # CPU-sized encoder-decoders
    "tiny": ModelConfig(d_model=64, n_heads=4, d_ff=256, n_layers=2, max_len=256, p_drop=0.0),
    "small": ModelConfig(d_model=256, n_heads=4, d_ff=1024, n_layers=3, p_drop=0.1),
    # CPU-sized decoder-only language models
    "lm-tiny": ModelConfig(
        arch="decoder-only", d_model=64, n_heads=4, d_ff=256, n_layers=2, max_len=256, p_drop=0.0
    ),
    "lm-small": ModelConfig(
        arch="decoder-only", d_model=128, n_heads=4, d_ff=512, n_layers=4, max_len=64, p_drop=0.0
    ),
    # the word-level complete works: 7.6M parameters, 4.4M of them the 17k-word embedding
    "lm-medium": ModelConfig(
        arch="decoder-only", d_model=256, n_heads=4, d_ff=1024, n_layers=4, max_len=128, p_drop=0.2
    ),
    # CPU-sized encoder classifier
    "cls-small": ModelConfig(
        arch="encoder-classifier", d_model=128, n_heads=4, d_ff=512, n_layers=2, p_drop=0.1
    ),
}


def model_preset(name: str, **changes: Any) -> ModelConfig:
    """The preset called `name`, with optional field changes."""
    if name not in MODEL_PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(MODEL_PRESETS)}")
    return MODEL_PRESETS[name].replace(**changes) if changes else MODEL_PRESETS[name]


@dataclass(frozen=True)
class TrainConfig(_ConfigMethods):
    """How to train: optimiser, schedule, batching, precision, checkpoints.

    Defaults are the paper's (Adam 0.9/0.98/1e-9, inverse-square-root warmup of 4000 steps,
    label smoothing 0.1).
    """

    max_steps: int = 1000
    max_epochs: int | None = None
    max_minutes: float | None = None
    batch_tokens: int = 4096  # token budget per batch (like fairseq's --max-tokens)
    batch_size: int | None = None  # fixed number of sequences per batch instead of a token budget
    grad_accum: int = 1
    lr_schedule: str = "inverse-sqrt"  # "inverse-sqrt" (the paper's), "cosine", "constant"
    lr: float | None = None  # peak learning rate; None: the paper's d_model^-0.5 formula
    lr_scale: float = 1.0  # multiplies the paper's formula
    min_lr: float = 0.0  # floor of the cosine schedule
    warmup_steps: int = 4000
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-9
    weight_decay: float = 0.0  # decoupled (AdamW), on weight matrices only
    # fine-tuning: each layer down from the top learns at this factor of the one above (1: off)
    layer_lr_decay: float = 1.0
    # fine-tuning: a regular expression; parameters whose names it matches are not trained
    # (e.g. "word_embeddings" keeps a pretrained vocabulary fixed)
    freeze: str | None = None
    label_smoothing: float = 0.1  # epsilon_ls
    clip_grad_norm: float | None = 1.0
    precision: str = "fp32"  # "fp32", "bf16", "fp16" (fp16 needs CUDA)
    seed: int = 0
    eval_every: int = 500
    eval_batches: int | None = None
    log_every: int = 50
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    tensorboard: bool = True  # mirror metrics.jsonl to TensorBoard (importing it takes ~2 s)
    plots: bool = True  # draw loss and learning-rate curves as PNGs at the end
    early_stopping_patience: int | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.lr_schedule not in ("inverse-sqrt", "cosine", "constant"):
            raise ValueError(
                "lr_schedule must be 'inverse-sqrt', 'cosine' or 'constant', "
                f"got {self.lr_schedule!r}"
            )
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"precision must be 'fp32', 'bf16' or 'fp16', got {self.precision!r}")
        for name in ("max_steps", "batch_tokens", "grad_accum", "eval_every", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if self.keep_checkpoints < 1:
            raise ValueError(f"keep_checkpoints must be >= 1, got {self.keep_checkpoints!r}")
        if not 0.0 < self.layer_lr_decay <= 1.0:
            raise ValueError(f"layer_lr_decay must be in (0, 1], got {self.layer_lr_decay!r}")
        if self.freeze is not None:
            try:
                re.compile(self.freeze)
            except re.error as e:
                message = f"freeze must be a regular expression, got {self.freeze!r}: {e}"
                raise ValueError(message) from None


__all__ = [
    "ModelConfig",
    "TrainConfig",
    "MODEL_PRESETS",
    "model_preset",
]
