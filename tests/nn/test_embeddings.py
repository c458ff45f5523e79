"""Token embeddings (x sqrt(d_model), section 3.4) and the embedding sum."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from aiayn.nn import TokenEmbedding, TransformerEmbedding, sinusoidal_positional_encoding

V, D = 20, 16


def test_token_embedding_is_scaled_by_sqrt_d_model() -> None:
    emb = TokenEmbedding(vocab_size=V, d_model=D)
    tokens = torch.tensor([[1, 2, 19], [0, 0, 5]])
    assert_close(emb(tokens), emb.weight[tokens] * math.sqrt(D))


def test_token_embedding_unscaled() -> None:
    emb = TokenEmbedding(vocab_size=V, d_model=D, scale=False)
    tokens = torch.tensor([[3, 4]])
    assert_close(emb(tokens), emb.weight[tokens])


def test_init_std_is_d_model_to_the_minus_half() -> None:
    torch.manual_seed(0)
    emb = TokenEmbedding(vocab_size=4000, d_model=64)
    assert emb.weight.std().item() == pytest.approx(64**-0.5, rel=0.05)


def make(**changes: object) -> TransformerEmbedding:
    kwargs = dict(token=TokenEmbedding(vocab_size=V, d_model=D), d_model=D, max_len=8)
    return TransformerEmbedding(**{**kwargs, **changes}).eval()


def test_sum_of_scaled_tokens_and_sinusoids() -> None:
    embed = make()
    tokens = torch.tensor([[4, 5, 6]])
    expected = embed.token.weight[tokens] * math.sqrt(D) + sinusoidal_positional_encoding(8, D)[:3]
    assert_close(embed(tokens), expected)


def test_start_pos_offsets_the_positions() -> None:
    embed = make()
    tokens = torch.tensor([[4, 5, 6, 7]])
    assert_close(embed(tokens[:, 2:], start_pos=2), embed(tokens)[:, 2:])


def test_longer_than_max_len_is_an_error() -> None:
    embed = make()
    embed(torch.zeros(1, 8, dtype=torch.long))  # exactly max_len is fine
    with pytest.raises(ValueError, match="length 9.*max_len 8"):
        embed(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="length 9.*max_len 8"):
        embed(torch.zeros(1, 2, dtype=torch.long), start_pos=7)


def test_token_types_and_norm() -> None:
    embed = make(type_vocab_size=2, norm=True, layer_norm_eps=1e-12, positional="learned")
    tokens = torch.tensor([[4, 5, 6]])
    types = torch.tensor([[0, 1, 1]])
    raw = embed.token(tokens) + embed.position.weight[:3] + embed.token_type.weight[types]
    assert_close(embed(tokens, token_types=types), embed.norm(raw))
    assert embed.norm.eps == 1e-12
    # token types default to all zeros
    assert_close(embed(tokens), embed(tokens, token_types=torch.zeros_like(tokens)))


def test_dropout_only_in_training() -> None:
    embed = make(dropout=0.5)
    tokens = torch.tensor([[1, 2, 3, 4]])
    assert_close(embed(tokens), embed(tokens))
    embed.train()
    torch.manual_seed(0)
    assert (embed(tokens) == 0).any()
