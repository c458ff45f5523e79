"""HFClassifier: a Hugging Face sequence classifier behind our classifier's interface, and the
offline import of `transformers` for `--backend hf`."""

from __future__ import annotations

import importlib
import os
import sys

import pytest
import torch
from torch.testing import assert_close

from aiayn.config import ModelConfig
from aiayn.errors import AiaynError
from aiayn.interop.hf_classifier import EXTRA_HINT, HFClassifier, transformers_module

transformers = pytest.importorskip("transformers")

PAD = 1  # not 0, so that a mask built from the wrong id shows


@pytest.fixture(scope="module")
def classifier() -> HFClassifier:
    """A small random BERT classifier built from a config (no download), in eval mode."""
    torch.manual_seed(0)
    hf_config = transformers.BertConfig(
        vocab_size=50,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
        type_vocab_size=2,
        num_labels=3,
        pad_token_id=PAD,
    )
    hf = transformers.BertForSequenceClassification(hf_config).eval()
    config = ModelConfig(
        arch="encoder-classifier", vocab_size=50, d_model=32, n_heads=4, d_ff=64, n_layers=2,
        max_len=32, n_classes=3, pad_id=PAD, type_vocab_size=2,
    )  # fmt: skip
    return HFClassifier(hf, config).eval()


TOKENS = torch.tensor([[2, 7, 8, 9, PAD, PAD], [2, 10, 11, 12, 13, 3]])


@torch.no_grad()
def test_it_returns_the_wrapped_models_logits_with_a_mask_from_pad_id(classifier):
    mask = (TOKENS != PAD).long()
    expected = classifier.hf(input_ids=TOKENS, attention_mask=mask).logits
    logits = classifier(TOKENS)
    assert logits.shape == (2, 3)
    assert_close(logits, expected)
    # the mask matters: without it the padding is attended to and the first row changes
    unmasked = classifier.hf(input_ids=TOKENS).logits
    assert not torch.allclose(logits[0], unmasked[0])
    assert_close(logits[1], unmasked[1])  # the row without padding is the same either way


@torch.no_grad()
def test_padding_does_not_change_a_sentences_logits(classifier):
    alone = classifier(TOKENS[:1, :4])
    assert_close(classifier(TOKENS)[:1], alone)


@torch.no_grad()
def test_an_explicit_mask_and_token_types_are_passed_on(classifier):
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    types = torch.tensor([[0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1]])
    expected = classifier.hf(
        input_ids=TOKENS, attention_mask=mask.long(), token_type_ids=types
    ).logits
    assert_close(classifier(TOKENS, mask=mask, token_types=types), expected)
    assert not torch.allclose(classifier(TOKENS, token_types=types), classifier(TOKENS))


def test_it_is_trained_by_our_loop_as_one_module(classifier):
    """Its parameters are the wrapped model's (the optimiser and checkpoints see them)."""
    assert list(classifier.parameters()) == list(classifier.hf.parameters())
    assert set(classifier.state_dict()) == {f"hf.{k}" for k in classifier.hf.state_dict()}


def test_transformers_module_works_offline(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    module = transformers_module()
    assert module is importlib.import_module("transformers")
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # never fetched from the hub at run time
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # a user's own choice is kept
    transformers_module()
    assert os.environ["HF_HUB_OFFLINE"] == "0"


def test_without_transformers_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes the import fail
    with pytest.raises(AiaynError) as error:
        transformers_module()
    assert str(error.value) == f"--backend hf needs the transformers package: {EXTRA_HINT}"
