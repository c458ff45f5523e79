"""An encoder classifier (BERT-style): encoder stack -> pooled vector -> class logits.

Notation: B batch, T length, D d_model, C number of classes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from aiayn.config import ModelConfig
from aiayn.models._init import init_linear_weights
from aiayn.nn.dropout import Dropout
from aiayn.nn.embeddings import TokenEmbedding, TransformerEmbedding
from aiayn.nn.encoder import Encoder


class EncoderClassifier(nn.Module):
    """Pooling is the first token's vector (`pooling="cls"`) or the mean over real tokens;
    `pooler=True` adds BERT's tanh(dense) layer on it."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch != "encoder-classifier":
            raise ValueError(
                f"EncoderClassifier needs arch='encoder-classifier', got {config.arch!r}"
            )
        c = self.config = config
        token = TokenEmbedding(vocab_size=c.vocab_size, d_model=c.d_model, scale=c.scale_embeddings)
        self.embed = TransformerEmbedding.from_config(c, token)
        self.encoder = Encoder(c)
        self.pooler = nn.Linear(c.d_model, c.d_model) if c.pooler else None
        self.dropout = Dropout(c.p_drop)
        self.classifier = nn.Linear(c.d_model, c.n_classes)
        init_linear_weights(self)

    def hidden_states(
        self,
        tokens: Tensor,
        *,
        token_types: Tensor | None = None,
        mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> Tensor:
        """(B, T) ids -> (B, T, D) encoder output. `mask` (B, T), True = real token, defaults to
        `tokens != pad_id`."""
        if mask is None:
            mask = tokens != self.config.pad_id
        x = self.embed(tokens, token_types=token_types)
        return self.encoder(x, mask[:, None, None, :], need_weights=need_weights)

    def pool(self, hidden: Tensor, mask: Tensor) -> Tensor:
        """(B, T, D) hidden states, (B, T) real-token mask -> (B, D)."""
        if self.config.pooling == "cls":
            pooled = hidden[:, 0]
        elif self.config.pooling == "max":  # each feature's largest value over the real tokens
            pooled = hidden.masked_fill(~mask[..., None], float("-inf")).amax(1)
        else:
            weights = mask.to(hidden.dtype)[..., None]  # (B, T, 1)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        if self.pooler is not None:
            pooled = torch.tanh(self.pooler(pooled))
        return pooled

    def forward(
        self, tokens: Tensor, *, token_types: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        """(B, T) ids -> (B, C) logits."""
        if mask is None:
            mask = tokens != self.config.pad_id
        hidden = self.hidden_states(tokens, token_types=token_types, mask=mask)
        return self.classifier(self.dropout(self.pool(hidden, mask)))


__all__ = ["EncoderClassifier"]
