"""A decoder-only language model: the paper's decoder without encoder-decoder attention (GPT).

Notation: B batch, T length, D d_model, V vocabulary size.
"""

from __future__ import annotations

from torch import Tensor, nn

from aiayn.config import ModelConfig
from aiayn.models._init import init_linear_weights
from aiayn.nn.decoder import Decoder
from aiayn.nn.embeddings import TokenEmbedding, TransformerEmbedding
from aiayn.nn.kv_cache import DecoderCache


class DecoderOnlyLM(nn.Module):
    """Token ids -> next-token logits at every position, each seeing only the tokens before it."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch != "decoder-only":
            raise ValueError(f"DecoderOnlyLM needs arch='decoder-only', got {config.arch!r}")
        c = self.config = config
        token = TokenEmbedding(vocab_size=c.vocab_size, d_model=c.d_model, scale=c.scale_embeddings)
        self.embed = TransformerEmbedding.from_config(c, token)
        self.decoder = Decoder(c, cross_attention=False)
        self.generator = nn.Linear(c.d_model, c.vocab_size, bias=False)
        init_linear_weights(self)
        if c.tie_output:
            self.generator.weight = token.weight

    def forward(
        self,
        tokens: Tensor,
        *,
        cache: DecoderCache | None = None,
        mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> Tensor:
        """(B, T) ids -> (B, T, V) logits. With `cache`, `tokens` holds only the new positions.

        Right padding needs no mask (causality hides it from real positions); `mask` (True = may
        attend, broadcastable to (B, H, T, S)) is for anything else, such as left padding.
        """
        start = 0 if cache is None else len(cache)
        x = self.embed(tokens, start_pos=start)
        x = self.decoder(x, self_mask=mask, cache=cache, need_weights=need_weights)
        return self.generator(x)

    def new_cache(self, capacity: int | None = None) -> DecoderCache:
        """An empty KV cache for `capacity` positions (it grows if decoding goes further)."""
        return self.decoder.new_cache(capacity)
