"""The encoder-decoder (Figure 1): shapes, shared and tied embeddings (section 3.4), cached
decoding, and property tests of what the paper promises: a future target token never changes an
earlier output, padding never changes a real position, eval mode is deterministic, and nothing
turns into NaN when a whole source row is padding."""

from __future__ import annotations

import functools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor
from torch.testing import assert_close

from aiayn.config import ModelConfig
from aiayn.models import EncoderDecoder, build_model, count_parameters

BASE = dict(vocab_size=40, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=32, p_drop=0.0)


def cfg(**changes: object) -> ModelConfig:
    return ModelConfig(**{**BASE, **changes})


def ids(B: int, T: int, seed: int = 0, high: int = 40) -> torch.Tensor:
    return torch.randint(1, high, (B, T), generator=torch.Generator().manual_seed(seed))


# --- shapes -------------------------------------------------------------------------------------


def test_encoder_decoder_shapes() -> None:
    model = EncoderDecoder(cfg(tgt_vocab_size=50, share_embeddings=False)).eval()
    src, tgt = ids(3, 7), ids(3, 5, seed=1)
    assert model(src, tgt).shape == (3, 5, 50)
    memory, src_mask = model.encode(src)
    assert memory.shape == (3, 7, 32) and src_mask.shape == (3, 1, 1, 7)
    assert_close(model.decode(tgt, memory, src_mask), model(src, tgt))


def test_build_model_picks_the_class() -> None:
    assert type(build_model(cfg(arch="encoder-decoder"))) is EncoderDecoder


def test_wrong_arch_is_an_error() -> None:
    with pytest.raises(ValueError, match="'encoder-classifier'"):
        EncoderDecoder(cfg(arch="encoder-classifier"))


# --- shared and tied embeddings (section 3.4) ---------------------------------------------------


def test_shared_and_tied_embeddings_are_one_storage() -> None:
    model = EncoderDecoder(cfg())
    src_w, tgt_w = model.src_embed.token.weight, model.tgt_embed.token.weight
    assert src_w is tgt_w and model.generator.weight is tgt_w
    assert src_w.data_ptr() == model.generator.weight.data_ptr()
    with torch.no_grad():  # a write through one name is seen through the others
        model.generator.weight[3, 0] = 123.0
    assert src_w[3, 0].item() == 123.0
    # counted once: the tied model is smaller than the untied one by two V x D matrices
    untied = EncoderDecoder(cfg(share_embeddings=False, tie_output=False))
    assert count_parameters(untied) - count_parameters(model) == 2 * 40 * 32


def test_count_parameters_counts_only_what_trains() -> None:
    model = EncoderDecoder(cfg())
    total = count_parameters(model)
    assert total == sum(p.numel() for p in model.parameters())  # parameters() deduplicates
    model.src_embed.token.weight.requires_grad_(False)  # the one shared, tied matrix
    assert count_parameters(model) == total - 40 * 32


def test_gradients_from_both_ends_reach_the_shared_matrix() -> None:
    model = EncoderDecoder(cfg())
    model(ids(2, 4), ids(2, 3, seed=1)).sum().backward()
    grad = model.generator.weight.grad
    assert grad is not None and grad is model.src_embed.token.weight.grad


def test_share_embeddings_false_gives_separate_matrices() -> None:
    model = EncoderDecoder(cfg(share_embeddings=False, tgt_vocab_size=50))
    src_w, tgt_w = model.src_embed.token.weight, model.tgt_embed.token.weight
    assert src_w is not tgt_w and src_w.data_ptr() != tgt_w.data_ptr()
    assert src_w.shape == (40, 32) and tgt_w.shape == (50, 32)
    assert model.generator.weight is tgt_w  # the output is still tied to the target side


def test_tied_weights_survive_a_state_dict_round_trip() -> None:
    torch.manual_seed(0)
    a = EncoderDecoder(cfg())
    b = EncoderDecoder(cfg())
    b.load_state_dict(a.state_dict())
    assert b.generator.weight is b.src_embed.token.weight
    assert torch.equal(b.generator.weight, a.generator.weight)


# --- cached decoding equals full recomputation --------------------------------------------------


def test_encoder_decoder_cached_decoding_equals_full() -> None:
    torch.manual_seed(0)
    model = EncoderDecoder(cfg()).eval()
    src = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]])
    tgt = ids(2, 6, seed=2)
    memory, src_mask = model.encode(src)
    full = model.decode(tgt, memory, src_mask)
    cache = model.new_cache()
    steps = [model.decode(tgt[:, t : t + 1], memory, src_mask, cache=cache) for t in range(6)]
    assert_close(torch.cat(steps, dim=1), full)


# --- properties, on a small random model and random inputs --------------------------------------
V, PAD = 23, 0
SETTINGS = settings(max_examples=20, deadline=None)
PROPERTY_BASE = dict(
    vocab_size=V, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=32, p_drop=0.1
)


@functools.cache
def encoder_decoder() -> EncoderDecoder:
    torch.manual_seed(0)
    return EncoderDecoder(ModelConfig(**PROPERTY_BASE)).eval()


def sequences(min_len: int = 1, max_len: int = 10) -> st.SearchStrategy[list[int]]:
    """A list of real (non-padding) token ids."""
    return st.lists(st.integers(1, V - 1), min_size=min_len, max_size=max_len)


def batch(rows: list[list[int]], width: int | None = None) -> Tensor:
    """Right-pad rows with PAD to `width` (default: the longest) -> (B, width) ids."""
    width = width or max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows])


@SETTINGS
@given(src=sequences(), tgt=sequences(2, 10), data=st.data())
@torch.no_grad()
def test_encoder_decoder_is_causal(src: list[int], tgt: list[int], data: st.DataObject) -> None:
    t = data.draw(st.integers(1, len(tgt) - 1), label="changed position")
    new = data.draw(st.integers(1, V - 1).filter(lambda x: x != tgt[t]), label="new token")
    changed = tgt[:t] + [new] + tgt[t + 1 :]
    model = encoder_decoder()
    before, after = model(batch([src]), batch([tgt])), model(batch([src]), batch([changed]))
    assert_close(after[:, :t], before[:, :t])
    assert not torch.allclose(after[:, t], before[:, t])  # the changed position itself does move


@SETTINGS
@given(srcs=st.lists(sequences(), min_size=2, max_size=4), tgt=sequences(), extra=st.integers(1, 5))
@torch.no_grad()
def test_source_padding_changes_nothing(srcs: list[list[int]], tgt: list[int], extra: int) -> None:
    """Each source alone, unpadded, gives the same logits as in a padded batch."""
    model = encoder_decoder()
    padded = model(batch(srcs, max(map(len, srcs)) + extra), batch([tgt] * len(srcs)))
    for b, src in enumerate(srcs):
        assert_close(padded[b : b + 1], model(batch([src]), batch([tgt])))


@SETTINGS
@given(src=sequences(), tgts=st.lists(sequences(), min_size=2, max_size=4), extra=st.integers(0, 5))
@torch.no_grad()
def test_target_padding_changes_nothing_at_real_positions(
    src: list[int], tgts: list[list[int]], extra: int
) -> None:
    model = encoder_decoder()
    padded = model(batch([src] * len(tgts)), batch(tgts, max(map(len, tgts)) + extra))
    for b, tgt in enumerate(tgts):
        alone = model(batch([src]), batch([tgt]))
        assert_close(padded[b : b + 1, : len(tgt)], alone)


@SETTINGS
@given(src=sequences(), tgt=sequences())
@torch.no_grad()
def test_eval_mode_is_deterministic(src: list[int], tgt: list[int]) -> None:
    model = encoder_decoder()
    assert model.config.p_drop > 0  # dropout exists, and eval mode must switch it off
    assert torch.equal(model(batch([src]), batch([tgt])), model(batch([src]), batch([tgt])))


def test_train_mode_is_not_deterministic() -> None:
    """The counterpart of the test above: dropout really is active in training."""
    config = ModelConfig(**{**PROPERTY_BASE, "p_drop": 0.3})
    torch.manual_seed(0)
    model = EncoderDecoder(config).train()
    src, tgt = batch([[1, 2, 3, 4]]), batch([[5, 6, 7]])
    assert not torch.equal(model(src, tgt), model(src, tgt))


@SETTINGS
@given(srcs=st.lists(sequences(), min_size=1, max_size=3), tgt=sequences())
def test_fully_padded_source_row_stays_finite(srcs: list[list[int]], tgt: list[int]) -> None:
    model = encoder_decoder()
    src = batch(srcs + [[PAD]])  # the last row has no real token at all
    logits = model(src, batch([tgt] * len(src)))
    assert torch.isfinite(logits).all()
    logits.sum().backward()
    try:
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    finally:
        model.zero_grad(set_to_none=True)
    with torch.no_grad():  # and the padded row does not disturb the real ones
        for b, s in enumerate(srcs):
            assert_close(logits[b : b + 1].detach(), model(batch([s]), batch([tgt])))
