"""The encoder classifier (BERT-style): shapes, pooling, the pooler, token types, and the property
that padding never changes a real position nor the class logits."""

from __future__ import annotations

import functools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor
from torch.testing import assert_close

from aiayn.config import ModelConfig
from aiayn.models import EncoderClassifier, build_model

BASE = dict(vocab_size=40, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=32, p_drop=0.0)


def cfg(**changes: object) -> ModelConfig:
    return ModelConfig(**{**BASE, "arch": "encoder-classifier", **changes})


def ids(B: int, T: int, seed: int = 0, high: int = 40) -> torch.Tensor:
    return torch.randint(1, high, (B, T), generator=torch.Generator().manual_seed(seed))


def test_classifier_shapes() -> None:
    model = EncoderClassifier(cfg(n_classes=5, pooler=True)).eval()
    tokens = ids(4, 6)
    assert model(tokens).shape == (4, 5)
    assert model.hidden_states(tokens).shape == (4, 6, 32)


def test_build_model_picks_the_class() -> None:
    assert type(build_model(cfg())) is EncoderClassifier


def test_wrong_arch_is_an_error() -> None:
    with pytest.raises(ValueError, match="'decoder-only'"):
        EncoderClassifier(cfg(arch="decoder-only"))


@pytest.mark.parametrize("pooling", ["cls", "mean", "max"])
def test_classifier_pooling(pooling: str) -> None:
    torch.manual_seed(0)
    model = EncoderClassifier(cfg(pooling=pooling)).eval()
    tokens = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
    hidden = model.hidden_states(tokens)
    if pooling == "cls":
        pooled = hidden[:, 0]
    elif pooling == "max":  # the padding's hidden states never win
        pooled = torch.stack([hidden[0, :3].amax(0), hidden[1].amax(0)])
    else:
        pooled = torch.stack([hidden[0, :3].mean(0), hidden[1].mean(0)])
    assert_close(model(tokens), model.classifier(pooled))


def test_classifier_pooler_is_tanh_dense() -> None:
    torch.manual_seed(0)
    model = EncoderClassifier(cfg(pooler=True)).eval()
    tokens = ids(2, 4)
    hidden = model.hidden_states(tokens)
    pooled = torch.tanh(model.pooler(hidden[:, 0]))
    assert_close(model(tokens), model.classifier(pooled))
    assert EncoderClassifier(cfg()).pooler is None  # BERT's pooler only when asked for


def test_an_explicit_mask_replaces_the_padding_mask() -> None:
    """With pad_id 0 but a mask that also hides the last real token, the result is that of the
    sentence without it."""
    torch.manual_seed(0)
    model = EncoderClassifier(cfg(pooling="mean")).eval()
    tokens = torch.tensor([[5, 6, 7, 8]])
    mask = torch.tensor([[True, True, True, False]])
    with torch.no_grad():
        assert_close(model(tokens, mask=mask), model(torch.tensor([[5, 6, 7, 0]])))
        assert_close(model(tokens, mask=tokens != 0), model(tokens))


def test_token_types_are_embedded_only_when_the_config_has_them() -> None:
    torch.manual_seed(0)
    model = EncoderClassifier(cfg(type_vocab_size=2)).eval()
    tokens = ids(1, 6)
    types = torch.tensor([[0, 0, 0, 1, 1, 1]])
    with torch.no_grad():
        assert not torch.allclose(model(tokens, token_types=types), model(tokens))
        assert_close(model(tokens, token_types=torch.zeros_like(tokens)), model(tokens))
    assert EncoderClassifier(cfg()).embed.token_type is None


# --- padding never changes a real position ------------------------------------------------------
V, PAD = 23, 0
SETTINGS = settings(max_examples=20, deadline=None)
PROPERTY_BASE = dict(
    vocab_size=V, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=32, p_drop=0.1
)


@functools.cache
def classifier(pooling: str) -> EncoderClassifier:
    torch.manual_seed(2)
    config = ModelConfig(arch="encoder-classifier", pooling=pooling, pooler=True, **PROPERTY_BASE)
    return EncoderClassifier(config).eval()


def sequences(min_len: int = 1, max_len: int = 10) -> st.SearchStrategy[list[int]]:
    """A list of real (non-padding) token ids."""
    return st.lists(st.integers(1, V - 1), min_size=min_len, max_size=max_len)


def batch(rows: list[list[int]], width: int | None = None) -> Tensor:
    """Right-pad rows with PAD to `width` (default: the longest) -> (B, width) ids."""
    width = width or max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows])


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
