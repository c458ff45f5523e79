from dataclasses import replace

import pytest
import torch
from torch.testing import assert_close

from aiayn.decoding import (
    SearchOptions,
    beam_decode,
    beam_search,
    decode,
    greedy_decode_with_logits,
    length_penalty,
    sequence_log_probs,
)

PAD, BOS, EOS = 0, 1, 2


def as_target(tokens: list[int], ended: bool) -> list[int]:
    return tokens + [EOS] if ended else tokens


def test_length_penalty_values():
    assert length_penalty(1, alpha=0.6) == pytest.approx(1.0)
    assert length_penalty(7, alpha=0.6) == pytest.approx(2.0**0.6)
    assert length_penalty(30, alpha=0.0) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_width_1_is_greedy(seed, alpha, make_seq2seq, make_sources):
    model = make_seq2seq(seed)
    src = make_sources(seed, lengths=[6, 2, 4, 5])
    greedy = greedy_decode_with_logits(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=12)
    )
    beam = beam_search(
        model,
        src,
        bos_id=BOS,
        eos_id=EOS,
        options=SearchOptions(beam_size=1, alpha=alpha, max_len=12),
    )
    assert [h[0].tokens for h in beam] == greedy.sequences
    assert [h[0].ended for h in beam] == greedy.ended


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_beam_scores_at_least_greedy(alpha, make_seq2seq, make_sources):
    for seed in range(6):
        model = make_seq2seq(seed)
        src = make_sources(seed, lengths=[6, 3, 5, 4])
        greedy = greedy_decode_with_logits(
            model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=12)
        )
        targets = [as_target(s, e) for s, e in zip(greedy.sequences, greedy.ended, strict=True)]
        greedy_lp = sequence_log_probs(model, src, targets, bos_id=BOS)
        beam = beam_search(
            model,
            src,
            bos_id=BOS,
            eos_id=EOS,
            options=SearchOptions(beam_size=4, alpha=alpha, max_len=12),
        )
        for i, hyps in enumerate(beam):
            greedy_score = float(greedy_lp[i]) / length_penalty(len(targets[i]), alpha=alpha)
            assert hyps[0].score >= greedy_score - 1e-5, (seed, i)


@pytest.mark.parametrize("seed", [0, 1])
def test_reported_scores_match_rescoring(seed, make_seq2seq, make_sources):
    model = make_seq2seq(seed)
    src = make_sources(seed, lengths=[5, 2, 6])
    beam = beam_search(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(beam_size=3, n_best=3, max_len=10)
    )
    for k in range(3):
        hyps = [h[k] for h in beam]
        targets = [as_target(h.tokens, h.ended) for h in hyps]
        rescored = sequence_log_probs(model, src, targets, bos_id=BOS)
        assert_close(torch.tensor([h.log_prob for h in hyps]), rescored, atol=1e-4, rtol=1e-4)
        for h in hyps:
            assert h.score == pytest.approx(h.log_prob / length_penalty(h.length, alpha=0.6))


def test_n_best_are_sorted_and_distinct(make_seq2seq, make_sources):
    model = make_seq2seq(4)
    src = make_sources(4, lengths=[5, 3])
    beam = beam_search(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(beam_size=4, n_best=4, max_len=10)
    )
    for hyps in beam:
        assert len(hyps) == 4
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        outputs = [(tuple(h.tokens), h.ended) for h in hyps]
        assert len(set(outputs)) == 4
    best = beam_decode(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(beam_size=4, max_len=10)
    )
    assert best == [hyps[0].tokens for hyps in beam]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batched_equals_each_source_alone(seed, make_seq2seq, make_sources):
    model = make_seq2seq(seed)
    src = make_sources(seed, lengths=[7, 2, 5, 3])
    batched = beam_search(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(beam_size=3, n_best=2, max_len=10)
    )
    for i in range(src.size(0)):
        alone_src = src[i : i + 1, : int((src[i] != PAD).sum())]  # no padding at all
        alone = beam_search(
            model,
            alone_src,
            bos_id=BOS,
            eos_id=EOS,
            options=SearchOptions(beam_size=3, n_best=2, max_len=10),
        )[0]
        assert [h.tokens for h in alone] == [h.tokens for h in batched[i]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in batched[i]], abs=1e-5)


@pytest.mark.parametrize("seed", [0, 5])
def test_cached_beam_equals_recomputation(seed, make_seq2seq, make_sources):
    model = make_seq2seq(seed)
    src = make_sources(seed, lengths=[6, 1, 4])
    options = SearchOptions(beam_size=4, n_best=4, max_len=10)
    cached = beam_search(model, src, bos_id=BOS, eos_id=EOS, options=options)
    full = beam_search(
        model, src, bos_id=BOS, eos_id=EOS, options=replace(options, use_cache=False)
    )
    for a, b in zip(cached, full, strict=True):
        assert [h.tokens for h in a] == [h.tokens for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5)


def test_eos_handling(make_seq2seq, make_sources, steer, eos_after_five):
    model = steer(make_seq2seq(5), eos_after_five)
    src = make_sources(5, lengths=[4, 6, 2])
    for hyps in beam_search(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(beam_size=3, n_best=3)
    ):
        for h in hyps:
            assert h.ended and EOS not in h.tokens
            assert 5 not in h.tokens[:-1] and len(h.tokens) <= 6


def test_length_limits(make_seq2seq, make_sources, steer, no_eos):
    model = steer(make_seq2seq(6, max_len=40), no_eos)
    src = make_sources(6, lengths=[3, 2])
    out = beam_search(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(beam_size=2, n_best=2, max_len=5)
    )
    assert all(len(h.tokens) == 5 and not h.ended for hyps in out for h in hyps)
    # default: source length + 50, capped by the model's max_len of 40
    out = beam_search(model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(beam_size=2))
    assert [len(hyps[0].tokens) for hyps in out] == [40, 40]


@pytest.mark.slow
def test_learns_to_copy(copy_model):
    model, src = copy_model
    expected = [[t for t in row if t != PAD] for row in src.tolist()]
    greedy = greedy_decode_with_logits(model, src, bos_id=BOS, eos_id=EOS).sequences
    beam = beam_decode(model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(beam_size=4))
    assert sum(g == e for g, e in zip(greedy, expected, strict=True)) >= 0.9 * len(expected)
    assert sum(b == e for b, e in zip(beam, expected, strict=True)) >= 0.9 * len(expected)


@pytest.mark.parametrize(("beam_size", "chosen"), [(1, "greedy_decode"), (3, "beam_decode")])
def test_decode_is_greedy_for_beam_size_1_and_beam_search_otherwise(
    make_seq2seq, make_sources, monkeypatch, beam_size, chosen
):
    from aiayn.decoding import beam

    model, src = make_seq2seq(0), make_sources(0, lengths=[4, 2])
    options = SearchOptions(beam_size=beam_size, max_len=6)
    expected = getattr(beam, chosen)(model, src, bos_id=BOS, eos_id=EOS, options=options)
    calls = []

    def spy(name):
        real = getattr(beam, name)

        def wrapped(*args, **kwargs):
            calls.append((name, kwargs["options"]))
            return real(*args, **kwargs)

        return wrapped

    for name in ("greedy_decode", "beam_decode"):
        monkeypatch.setattr(beam, name, spy(name))
    assert decode(model, src, bos_id=BOS, eos_id=EOS, options=options) == expected
    assert calls == [(chosen, options)]


def _ngrams(tokens: list[int], n: int) -> list[tuple[int, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_blocks_repeated_ngrams_and_keeps_length_bounds(seed, make_seq2seq, make_sources):
    model = make_seq2seq(seed)
    src = make_sources(seed, lengths=[6, 3, 5])
    plain = beam_search(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(beam_size=3, max_len=20)
    )
    options = SearchOptions(beam_size=3, max_len=20, min_len=8, no_repeat_ngram=2)
    blocked = beam_search(model, src, bos_id=BOS, eos_id=EOS, options=options)
    for hyps in blocked:
        for h in hyps:
            grams = _ngrams(h.tokens, 2)
            assert len(grams) == len(set(grams)), h.tokens  # no bigram twice
            assert 8 <= len(h.tokens) <= 20
    # the constraint changes something: a random model repeats bigrams or stops early unblocked
    assert any(
        len(set(_ngrams(h.tokens, 2))) < len(_ngrams(h.tokens, 2)) or len(h.tokens) < 8
        for hyps in plain
        for h in hyps
    )
