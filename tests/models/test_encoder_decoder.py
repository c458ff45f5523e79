"""The three whole networks: shapes, shared and tied embeddings, pooling, cached decoding."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from aiayn.config import ModelConfig
from aiayn.models import (
    DecoderOnlyLM,
    EncoderClassifier,
    EncoderDecoder,
    build_model,
    count_parameters,
)

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


def test_decoder_only_shapes() -> None:
    model = DecoderOnlyLM(cfg(arch="decoder-only")).eval()
    assert model(ids(2, 9)).shape == (2, 9, 40)


def test_classifier_shapes() -> None:
    model = EncoderClassifier(cfg(arch="encoder-classifier", n_classes=5, pooler=True)).eval()
    tokens = ids(4, 6)
    assert model(tokens).shape == (4, 5)
    assert model.hidden_states(tokens).shape == (4, 6, 32)


@pytest.mark.parametrize(
    ("arch", "cls"),
    [
        ("encoder-decoder", EncoderDecoder),
        ("decoder-only", DecoderOnlyLM),
        ("encoder-classifier", EncoderClassifier),
    ],
)
def test_build_model_picks_the_class(arch: str, cls: type) -> None:
    assert type(build_model(cfg(arch=arch))) is cls


@pytest.mark.parametrize("cls", [EncoderDecoder, DecoderOnlyLM, EncoderClassifier])
def test_wrong_arch_is_an_error(cls: type) -> None:
    wrong = "encoder-classifier" if cls is not EncoderClassifier else "decoder-only"
    with pytest.raises(ValueError, match=f"'{wrong}'"):
        cls(cfg(arch=wrong))


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


def test_tie_output_false() -> None:
    model = DecoderOnlyLM(cfg(arch="decoder-only", tie_output=False))
    assert model.generator.weight is not model.embed.token.weight
    tied = DecoderOnlyLM(cfg(arch="decoder-only"))
    assert tied.generator.weight is tied.embed.token.weight


def test_tied_weights_survive_a_state_dict_round_trip() -> None:
    torch.manual_seed(0)
    a = EncoderDecoder(cfg())
    b = EncoderDecoder(cfg())
    b.load_state_dict(a.state_dict())
    assert b.generator.weight is b.src_embed.token.weight
    assert torch.equal(b.generator.weight, a.generator.weight)


# --- classifier pooling -------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", ["cls", "mean", "max"])
def test_classifier_pooling(pooling: str) -> None:
    torch.manual_seed(0)
    model = EncoderClassifier(cfg(arch="encoder-classifier", pooling=pooling)).eval()
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
    model = EncoderClassifier(cfg(arch="encoder-classifier", pooler=True)).eval()
    tokens = ids(2, 4)
    hidden = model.hidden_states(tokens)
    pooled = torch.tanh(model.pooler(hidden[:, 0]))
    assert_close(model(tokens), model.classifier(pooled))


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


def test_decoder_only_cached_decoding_equals_full() -> None:
    torch.manual_seed(0)
    model = DecoderOnlyLM(cfg(arch="decoder-only", norm_first=True)).eval()
    tokens = ids(2, 7)
    cache = model.new_cache()
    prefix = model(tokens[:, :3], cache=cache)  # a prompt, then one token at a time
    steps = [model(tokens[:, t : t + 1], cache=cache) for t in range(3, 7)]
    assert_close(torch.cat([prefix, *steps], dim=1), model(tokens))
    assert len(cache) == 7
