"""Embeddings (section 3.4) and their sum with the positional encoding (section 3.5).

Notation: B batch, T length, D d_model, V vocabulary size.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from aiayn.config import ModelConfig
from aiayn.nn.dropout import Dropout
from aiayn.nn.positional_encoding import positional_encoding


class TokenEmbedding(nn.Module):
    """Token ids -> vectors, multiplied by sqrt(d_model) as in section 3.4.

    The scale matters when the matrix is shared with the pre-softmax projection: its entries are
    ~ d_model^-0.5 in size (so logits are well scaled), and the sqrt(d_model) factor brings the
    embeddings back to the size of the positional encodings they are added to.
    """

    def __init__(self, *, vocab_size: int, d_model: int, scale: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab_size, d_model))
        nn.init.normal_(self.weight, std=d_model**-0.5)
        self.scale = math.sqrt(d_model) if scale else 1.0

    def forward(self, tokens: Tensor) -> Tensor:
        """(B, T) ids -> (B, T, D)."""
        return nn.functional.embedding(tokens, self.weight) * self.scale


class TransformerEmbedding(nn.Module):
    """Dropout(TokenEmbedding(x) + PE(positions) [+ token-type embedding]) [then LayerNorm].

    The token embedding can be shared with another module (section 3.4); pass it in as `token`.
    """

    def __init__(
        self,
        *,
        token: TokenEmbedding,
        d_model: int,
        max_len: int,
        positional: str = "sinusoidal",
        dropout: float = 0.0,
        type_vocab_size: int = 0,
        norm: bool = False,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.token = token
        self.position = positional_encoding(positional, max_len=max_len, d_model=d_model)
        self.token_type = nn.Embedding(type_vocab_size, d_model) if type_vocab_size else None
        self.norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if norm else None
        self.dropout = Dropout(dropout)
        self.max_len = max_len

    @classmethod
    def from_config(cls, config: ModelConfig, token: TokenEmbedding) -> TransformerEmbedding:
        """The embedding of `config` around `token` (the three models build theirs here)."""
        return cls(
            token=token,
            d_model=config.d_model,
            max_len=config.max_len,
            positional=config.positional,
            dropout=config.p_drop,
            type_vocab_size=config.type_vocab_size,
            norm=config.embedding_norm,
            layer_norm_eps=config.layer_norm_eps,
        )

    def forward(
        self, tokens: Tensor, *, start_pos: int = 0, token_types: Tensor | None = None
    ) -> Tensor:
        """(B, T) ids, first one at position `start_pos` -> (B, T, D)."""
        T = tokens.size(1)
        if start_pos + T > self.max_len:
            raise ValueError(
                f"sequence of length {start_pos + T} is longer than the model's max_len "
                f"{self.max_len}"
            )
        positions = torch.arange(start_pos, start_pos + T, device=tokens.device)
        x = self.token(tokens) + self.position(positions)  # (B, T, D) + (T, D)
        if self.token_type is not None:
            if token_types is None:
                token_types = torch.zeros_like(tokens)
            x = x + self.token_type(token_types)
        if self.norm is not None:
            x = self.norm(x)
        return self.dropout(x)
