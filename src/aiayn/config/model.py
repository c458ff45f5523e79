"""The hyper-parameters of a model (`ModelConfig`) and the named presets.

One `ModelConfig` describes all three architectures; `arch` picks which. Every field that departs
from the paper is an explicit option whose default *is* the paper (post-norm, ReLU, sinusoidal
positions, embeddings scaled by sqrt(d_model), no attention dropout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aiayn.config._base import ConfigBase, at_least, greater_than, in_range, one_of

Arch = Literal["encoder-decoder", "decoder-only", "encoder-classifier", "lstm-encoder-decoder"]
ARCHS: tuple[str, ...] = (
    "encoder-decoder",
    "decoder-only",
    "encoder-classifier",
    "lstm-encoder-decoder",  # the recurrent baseline of aiayn.baselines
)
ACTIVATIONS: tuple[str, ...] = ("relu", "gelu", "gelu_tanh")
POSITIONALS: tuple[str, ...] = ("sinusoidal", "learned", "none")  # "none": no order (ablation)
# How a query and a key give an attention weight: the paper's softmax(q.k / sqrt(d_k)), or the
# alternatives it compares with in section 3.2.1 (dot product without the scale, additive) and
# Luong et al. 2015's bilinear ("general") score.
ATTENTION_SCORES: tuple[str, ...] = ("scaled-dot", "dot", "additive", "bilinear")
POOLINGS: tuple[str, ...] = ("cls", "mean", "max")
RNN_ATTENTIONS: tuple[str, ...] = ("general", "dot", "additive")


@dataclass(frozen=True)
class ModelConfig(ConfigBase):
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
    residual: bool = True  # False: no skip connection, LayerNorm(Sublayer(x)) (an ablation)
    attention_score: str = "scaled-dot"  # one of ATTENTION_SCORES
    share_layers: bool = False  # True: all N layers of a stack are one layer (ALBERT)
    causal: bool = True  # False: decoder self-attention sees the future (an ablation)
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
    # lstm-encoder-decoder only: the attention score, Luong et al. 2015's "general" (bilinear) or
    # "dot", or Bahdanau et al. 2015's "additive"
    rnn_attention: str = "general"

    def validate(self) -> None:
        for name in ("vocab_size", "d_model", "n_heads", "d_ff", "n_layers", "max_len"):
            at_least(name, getattr(self, name), 1)
        at_least("tgt_vocab_size", self.tgt_vocab_size, 1)
        at_least("n_decoder_layers", self.n_decoder_layers, 1)
        if self.d_model % self.n_heads != 0:
            raise ValueError(
                f"d_model={self.d_model} must be divisible by n_heads={self.n_heads} "
                f"(each head has d_k = d_model / n_heads)"
            )
        for name in ("p_drop", "p_drop_attn", "p_drop_ff"):
            in_range(name, getattr(self, name), 0.0, 1.0)
        one_of("activation", self.activation, ACTIVATIONS)
        one_of("positional", self.positional, POSITIONALS)
        one_of("attention_score", self.attention_score, ATTENTION_SCORES)
        one_of("pooling", self.pooling, POOLINGS)
        one_of("rnn_attention", self.rnn_attention, RNN_ATTENTIONS)
        greater_than("layer_norm_eps", self.layer_norm_eps, 0.0)
        at_least("type_vocab_size", self.type_vocab_size, 0)
        if self.arch == "encoder-classifier":
            at_least("n_classes", self.n_classes, 2)
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(
                f"pad_id must be in [0, vocab_size={self.vocab_size}), got {self.pad_id!r}"
            )
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
