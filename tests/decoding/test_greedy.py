import logging

import pytest
import torch
from torch.testing import assert_close

from aiayn.decoding import SearchOptions, greedy_decode, greedy_decode_with_logits

PAD, BOS, EOS = 0, 1, 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cached_greedy_equals_recomputation(seed, make_seq2seq, make_sources):
    model = make_seq2seq(seed)
    src = make_sources(seed, lengths=[7, 3, 5, 1])  # different lengths: rows padded differently
    cached = greedy_decode_with_logits(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=12)
    )
    full = greedy_decode_with_logits(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=12, use_cache=False)
    )
    assert cached.sequences == full.sequences
    assert torch.equal(cached.tokens, full.tokens)
    assert_close(cached.logits, full.logits)


def test_batch_equals_each_source_alone(make_seq2seq, make_sources):
    model = make_seq2seq(3)
    src = make_sources(3, lengths=[6, 2, 4])
    batched = greedy_decode_with_logits(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=10)
    )
    for i in range(src.size(0)):
        alone_src = src[i : i + 1, : int((src[i] != PAD).sum())]  # no padding at all
        alone = greedy_decode_with_logits(
            model, alone_src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=10)
        )
        assert alone.sequences[0] == batched.sequences[i]
        L = alone.logits.size(1)
        assert_close(alone.logits[0], batched.logits[i, :L])


def test_logits_pick_the_tokens(make_seq2seq, make_sources):
    model = make_seq2seq(4)
    out = greedy_decode_with_logits(
        model,
        make_sources(4, lengths=[5, 5]),
        bos_id=BOS,
        eos_id=EOS,
        options=SearchOptions(max_len=8),
    )
    for i, seq in enumerate(out.sequences):
        assert out.logits[i, : len(seq)].argmax(dim=-1).tolist() == seq


def test_stops_each_row_at_eos(make_seq2seq, make_sources, steer, eos_after_five):
    model = steer(make_seq2seq(5), eos_after_five)
    src = make_sources(5, lengths=[4, 6, 2, 5, 3, 6])
    out = greedy_decode_with_logits(model, src, bos_id=BOS, eos_id=EOS)
    assert all(out.ended)
    for i, seq in enumerate(out.sequences):
        assert EOS not in seq
        assert len(seq) <= 6
        assert 5 not in seq[:-1]  # a 5 is always followed by EOS
        assert len(seq) == 6 or seq[-1] == 5
        assert out.tokens[i, len(seq)] == EOS
        assert (out.tokens[i, len(seq) + 1 :] == PAD).all()  # stopped rows are fed padding
    # Decoding stops when the last row has ended.
    assert out.tokens.size(1) == max(len(s) for s in out.sequences) + 1
    assert out.sequences == greedy_decode(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(use_cache=False)
    )


def test_default_length_limit_is_source_length_plus_50(make_seq2seq, make_sources, steer, no_eos):
    model = steer(make_seq2seq(6, max_len=64), no_eos)
    src = make_sources(6, lengths=[3, 20, 9])
    out = greedy_decode_with_logits(model, src, bos_id=BOS, eos_id=EOS)
    # 3 + 50 and 9 + 50; 20 + 50 is capped by the model's max_len of 64
    assert [len(s) for s in out.sequences] == [53, 64, 59]
    assert out.ended == [False, False, False]
    assert out.logits.shape == (3, 64, 10)


@pytest.mark.parametrize(("max_len", "expected"), [(1, 1), (7, 7), (500, 24)])
def test_explicit_max_len_is_capped_by_the_model(
    max_len, expected, make_seq2seq, make_sources, steer, no_eos
):
    model = steer(make_seq2seq(7, max_len=24), no_eos)
    out = greedy_decode(
        model,
        make_sources(7, lengths=[2, 4]),
        bos_id=BOS,
        eos_id=EOS,
        options=SearchOptions(max_len=max_len),
    )
    assert [len(s) for s in out] == [expected, expected]


def test_eos_counts_towards_max_len(make_seq2seq, make_sources, steer):
    # EOS is certain at position 3 (the 4th step): with max_len=4 it fits, with 3 it does not.
    model = steer(make_seq2seq(8), lambda tokens, pos: 100.0 * (pos[None, :] >= 3).float())
    src = make_sources(8, lengths=[3])
    fits = greedy_decode_with_logits(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=4)
    )
    cut = greedy_decode_with_logits(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=3)
    )
    assert fits.ended == [True] and len(fits.sequences[0]) == 3
    assert cut.ended == [False] and cut.sequences[0] == fits.sequences[0]


def test_does_not_change_training_mode_and_warns(make_seq2seq, make_sources, caplog):
    model = make_seq2seq(9)
    src = make_sources(9, lengths=[3])
    greedy_decode(model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=3))
    assert not model.training
    model.train()
    with caplog.at_level(logging.WARNING, logger="aiayn.decoding"):
        greedy_decode(model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=3))
    assert model.training
    assert "training mode" in caplog.text


def test_rejects_a_source_that_is_not_2d(make_seq2seq):
    with pytest.raises(ValueError, match="src"):
        greedy_decode(make_seq2seq(0), torch.tensor([3, 4, 5]), bos_id=BOS, eos_id=EOS)


@pytest.mark.parametrize("beam_size", [2, 4])
def test_refuses_a_beam_wider_than_one(make_seq2seq, make_sources, beam_size):
    model, src = make_seq2seq(0), make_sources(0, lengths=[3])
    options = SearchOptions(beam_size=beam_size)
    with pytest.raises(ValueError, match=f"keeps one hypothesis, got beam_size={beam_size}"):
        greedy_decode(model, src, bos_id=BOS, eos_id=EOS, options=options)
    with pytest.raises(ValueError, match="use aiayn.decoding.decode or beam_search"):
        greedy_decode_with_logits(model, src, bos_id=BOS, eos_id=EOS, options=options)
