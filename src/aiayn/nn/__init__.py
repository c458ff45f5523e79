"""The building blocks of the paper's section 3, one concept per file."""

from aiayn.nn.attention import (
    MultiHeadAttention,
    attend,
    attention_scores,
    fast_scaled_dot_product_attention,
    scaled_dot_product_attention,
)
from aiayn.nn.decoder import Decoder, DecoderLayer
from aiayn.nn.embeddings import TokenEmbedding, TransformerEmbedding
from aiayn.nn.encoder import Encoder, EncoderLayer
from aiayn.nn.feed_forward import PositionwiseFeedForward
from aiayn.nn.kv_cache import DecoderCache, KVCache
from aiayn.nn.masks import causal_mask, padding_mask
from aiayn.nn.positional_encoding import (
    LearnedPositionalEmbedding,
    NoPositionalEncoding,
    SinusoidalPositionalEncoding,
    sinusoidal_positional_encoding,
)
from aiayn.nn.residual import ResidualNorm
from aiayn.nn.sublayers import LayerSpec

__all__ = [
    "Decoder",
    "DecoderCache",
    "DecoderLayer",
    "Encoder",
    "EncoderLayer",
    "KVCache",
    "LayerSpec",
    "LearnedPositionalEmbedding",
    "MultiHeadAttention",
    "NoPositionalEncoding",
    "PositionwiseFeedForward",
    "ResidualNorm",
    "SinusoidalPositionalEncoding",
    "TokenEmbedding",
    "TransformerEmbedding",
    "attend",
    "attention_scores",
    "causal_mask",
    "fast_scaled_dot_product_attention",
    "padding_mask",
    "scaled_dot_product_attention",
    "sinusoidal_positional_encoding",
]
