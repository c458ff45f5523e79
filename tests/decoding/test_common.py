"""What the decoders share: the source check, the output-length limit of section 6.1 (source
length + 50, capped by the model), and the warning about a model left in training mode."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from aiayn.decoding._common import (
    EXTRA_OUTPUT_TOKENS,
    check_source,
    constrain,
    output_length_limits,
    warn_if_training,
)

PAD = 0


def test_the_default_limit_is_each_sources_real_length_plus_50():
    assert EXTRA_OUTPUT_TOKENS == 50  # section 6.1
    src = torch.tensor([[5, 6, 7, PAD], [5, PAD, PAD, PAD], [5, 6, 7, 8]])
    limits = output_length_limits(src, pad_id=PAD, model_max_len=512, max_len=None)
    assert limits.tolist() == [53, 51, 54] and limits.dtype == torch.long


def test_the_pad_id_is_the_one_given():
    src = torch.tensor([[1, 1, 9]])  # with pad_id 1, one real token
    assert output_length_limits(src, pad_id=1, model_max_len=512, max_len=None).tolist() == [51]


def test_an_explicit_limit_is_the_same_for_every_source():
    src = torch.tensor([[5, 6, 7], [5, PAD, PAD]])
    limits = output_length_limits(src, pad_id=PAD, model_max_len=512, max_len=4)
    assert limits.tolist() == [4, 4]


@pytest.mark.parametrize(("max_len", "expected"), [(None, [52, 51]), (100, [52, 52]), (7, [7, 7])])
def test_the_limit_is_capped_by_the_models_max_len(max_len, expected):
    src = torch.tensor([[5, 6, 7], [5, PAD, PAD]])
    limits = output_length_limits(src, pad_id=PAD, model_max_len=52, max_len=max_len)
    assert limits.tolist() == expected


def test_check_source_accepts_a_batch_of_int64_ids():
    check_source(torch.tensor([[3, 4], [5, PAD]]))


@pytest.mark.parametrize(
    ("src", "message"),
    [
        (torch.tensor([3, 4, 5]), r"\(B, S\) tensor of int64 token ids, got shape \(3,\)"),
        (torch.zeros(2, 3, 4, dtype=torch.long), r"got shape \(2, 3, 4\)"),
        (torch.tensor([[3.0, 4.0]]), "dtype torch.float32"),
        (torch.tensor([[3, 4]], dtype=torch.int32), "dtype torch.int32"),
        (torch.zeros(0, 5, dtype=torch.long), "at least one source, got an empty batch"),
    ],
)
def test_check_source_refuses_what_is_not_a_batch_of_ids(src, message):
    with pytest.raises(ValueError, match=message):
        check_source(src)


def test_a_model_in_training_mode_is_warned_about_and_left_so(caplog):
    model = nn.Linear(2, 2)
    with caplog.at_level(logging.WARNING, logger="aiayn.decoding"):
        warn_if_training(model.eval())
        assert caplog.records == []
        warn_if_training(model.train())
    assert model.training and "call model.eval() first" in caplog.text


def test_constrain_forbids_eos_until_min_len():
    log_probs = torch.zeros(2, 6)
    generated = torch.tensor([[3, 4], [5, 5]])
    short = constrain(log_probs, generated, eos_id=2, min_len=3, no_repeat_ngram=0)
    assert torch.isneginf(short[:, 2]).all()
    assert torch.isfinite(short[:, [0, 1, 3, 4, 5]]).all()
    enough = constrain(log_probs, generated, eos_id=2, min_len=2, no_repeat_ngram=0)
    assert torch.isfinite(enough).all()


def test_constrain_forbids_the_token_that_would_repeat_an_ngram():
    # row 0 has seen the trigram (3, 4, 5) and now ends in (3, 4): 5 would repeat it.
    # row 1 ends in (4, 3), which no earlier trigram starts with: nothing is forbidden.
    generated = torch.tensor([[3, 4, 5, 1, 3, 4], [3, 4, 5, 1, 4, 3]])
    out = constrain(torch.zeros(2, 7), generated, eos_id=2, min_len=0, no_repeat_ngram=3)
    assert torch.isneginf(out[0, 5]) and torch.isfinite(out[0, [0, 1, 2, 3, 4, 6]]).all()
    assert torch.isfinite(out[1]).all()
    # bigrams: row 0 ends in 4, and (4, 5) was seen
    out2 = constrain(torch.zeros(2, 7), generated, eos_id=2, min_len=0, no_repeat_ngram=2)
    assert torch.isneginf(out2[0, 5])
    assert torch.isneginf(out2[1, 4])  # row 1 ends in 3, and (3, 4) was seen
