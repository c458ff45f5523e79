"""Property tests of what the paper promises, on small random models and random inputs:
a future token never changes an earlier output, padding never changes a real position, eval mode
is deterministic, and nothing turns into NaN when a whole source row is padding."""

from __future__ import annotations

import functools

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor
from torch.testing import assert_close

from aiayn.config import ModelConfig
from aiayn.models import DecoderOnlyLM, EncoderClassifier, EncoderDecoder

V, PAD = 23, 0
SETTINGS = settings(max_examples=20, deadline=None)
BASE = dict(vocab_size=V, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=32, p_drop=0.1)


@functools.cache
def encoder_decoder() -> EncoderDecoder:
    torch.manual_seed(0)
    return EncoderDecoder(ModelConfig(**BASE)).eval()


@functools.cache
def decoder_only() -> DecoderOnlyLM:
    torch.manual_seed(1)
    return DecoderOnlyLM(ModelConfig(arch="decoder-only", **BASE)).eval()


@functools.cache
def classifier(pooling: str) -> EncoderClassifier:
    torch.manual_seed(2)
    config = ModelConfig(arch="encoder-classifier", pooling=pooling, pooler=True, **BASE)
    return EncoderClassifier(config).eval()


def sequences(min_len: int = 1, max_len: int = 10) -> st.SearchStrategy[list[int]]:
    """A list of real (non-padding) token ids."""
    return st.lists(st.integers(1, V - 1), min_size=min_len, max_size=max_len)


def batch(rows: list[list[int]], width: int | None = None) -> Tensor:
    """Right-pad rows with PAD to `width` (default: the longest) -> (B, width) ids."""
    width = width or max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows])


# --- a future token never changes an earlier output ---------------------------------------------


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
@given(tokens=sequences(2, 12), data=st.data())
@torch.no_grad()
def test_decoder_only_lm_is_causal(tokens: list[int], data: st.DataObject) -> None:
    t = data.draw(st.integers(1, len(tokens) - 1), label="changed position")
    new = data.draw(st.integers(1, V - 1).filter(lambda x: x != tokens[t]), label="new token")
    changed = tokens[:t] + [new] + tokens[t + 1 :]
    model = decoder_only()
    before, after = model(batch([tokens])), model(batch([changed]))
    assert_close(after[:, :t], before[:, :t])
    assert not torch.allclose(after[:, t], before[:, t])


# --- padding never changes a real position ------------------------------------------------------


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
@given(rows=st.lists(sequences(), min_size=2, max_size=4), extra=st.integers(0, 5))
@torch.no_grad()
def test_decoder_only_right_padding_changes_nothing(rows: list[list[int]], extra: int) -> None:
    model = decoder_only()
    padded = model(batch(rows, max(map(len, rows)) + extra))
    for b, row in enumerate(rows):
        assert_close(padded[b : b + 1, : len(row)], model(batch([row])))


@SETTINGS
@given(
    rows=st.lists(sequences(), min_size=2, max_size=4),
    extra=st.integers(1, 5),
    pooling=st.sampled_from(["cls", "mean", "max"]),
)
@torch.no_grad()
def test_classifier_padding_changes_nothing(
    rows: list[list[int]], extra: int, pooling: str
) -> None:
    model = classifier(pooling)
    tokens = batch(rows, max(map(len, rows)) + extra)
    padded_logits, padded_hidden = model(tokens), model.hidden_states(tokens)
    for b, row in enumerate(rows):
        alone = batch([row])
        assert_close(padded_logits[b : b + 1], model(alone))
        assert_close(padded_hidden[b : b + 1, : len(row)], model.hidden_states(alone))


# --- determinism and finiteness -----------------------------------------------------------------


@SETTINGS
@given(src=sequences(), tgt=sequences())
@torch.no_grad()
def test_eval_mode_is_deterministic(src: list[int], tgt: list[int]) -> None:
    model = encoder_decoder()
    assert model.config.p_drop > 0  # dropout exists, and eval mode must switch it off
    assert torch.equal(model(batch([src]), batch([tgt])), model(batch([src]), batch([tgt])))
    tokens = batch([tgt])
    assert torch.equal(decoder_only()(tokens), decoder_only()(tokens))


def test_train_mode_is_not_deterministic() -> None:
    """The counterpart of the test above: dropout really is active in training."""
    config = ModelConfig(**{**BASE, "p_drop": 0.3})
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
