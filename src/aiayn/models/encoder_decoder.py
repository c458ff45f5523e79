"""The paper's encoder-decoder Transformer (Figure 1).

Notation: B batch, S source length, T target length, D d_model, V target vocabulary size.
"""

from __future__ import annotations

from torch import Tensor, nn

from aiayn.config import ModelConfig
from aiayn.models._init import init_linear_weights
from aiayn.nn.decoder import Decoder
from aiayn.nn.embeddings import TokenEmbedding, TransformerEmbedding
from aiayn.nn.encoder import Encoder
from aiayn.nn.kv_cache import DecoderCache
from aiayn.nn.masks import padding_mask


class EncoderDecoder(nn.Module):
    """Source ids -> encoder memory; memory + target ids so far -> next-token logits.

    Section 3.4: source and target share one embedding matrix (`share_embeddings`) and the
    pre-softmax projection reuses it (`tie_output`).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch != "encoder-decoder":
            raise ValueError(f"EncoderDecoder needs arch='encoder-decoder', got {config.arch!r}")
        c = self.config = config
        src_token = TokenEmbedding(
            vocab_size=c.vocab_size, d_model=c.d_model, scale=c.scale_embeddings
        )
        tgt_token = (
            src_token
            if c.share_embeddings
            else TokenEmbedding(
                vocab_size=c.target_vocab_size, d_model=c.d_model, scale=c.scale_embeddings
            )
        )
        self.src_embed = TransformerEmbedding.from_config(c, src_token)
        self.tgt_embed = TransformerEmbedding.from_config(c, tgt_token)
        self.encoder = Encoder(c)
        self.decoder = Decoder(c, cross_attention=True)
        self.generator = nn.Linear(c.d_model, c.target_vocab_size, bias=False)
        init_linear_weights(self)
        if c.tie_output:
            self.generator.weight = tgt_token.weight

    def encode(self, src: Tensor, *, need_weights: bool = False) -> tuple[Tensor, Tensor]:
        """(B, S) source ids -> (memory (B, S, D), source mask (B, 1, 1, S))."""
        src_mask = padding_mask(src, self.config.pad_id)
        memory = self.encoder(self.src_embed(src), src_mask, need_weights=need_weights)
        return memory, src_mask

    def decode(
        self,
        tgt: Tensor,
        memory: Tensor,
        src_mask: Tensor,
        *,
        cache: DecoderCache | None = None,
        need_weights: bool = False,
    ) -> Tensor:
        """(B, T) target ids (shifted right, starting with BOS) -> (B, T, V) logits.

        With a `cache`, `tgt` holds only the new positions. Target padding needs no mask of its
        own: targets are right-padded, and the causal mask already stops every real position from
        seeing the padding after it.
        """
        start = 0 if cache is None else len(cache)
        x = self.tgt_embed(tgt, start_pos=start)
        x = self.decoder(x, memory, memory_mask=src_mask, cache=cache, need_weights=need_weights)
        return self.generator(x)

    def forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        """(B, S) source ids, (B, T) target input ids -> (B, T, V) logits."""
        memory, src_mask = self.encode(src)
        return self.decode(tgt, memory, src_mask)

    def new_cache(self, capacity: int | None = None) -> DecoderCache:
        """An empty KV cache for `capacity` positions (it grows if decoding goes further)."""
        return self.decoder.new_cache(capacity)
