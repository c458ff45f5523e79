"""SearchOptions and SamplingOptions: the paper's defaults, and every setting checked when the
options are made, with a message naming it."""

from __future__ import annotations

import dataclasses
import math

import pytest

from aiayn.decoding import SamplingOptions, SearchOptions
from aiayn.decoding.options import check_sampling


def test_search_defaults_are_greedy_with_the_papers_length_penalty_and_limit():
    o = SearchOptions()
    assert (o.beam_size, o.alpha, o.max_len, o.n_best, o.use_cache) == (1, 0.6, None, 1, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.beam_size = 4  # type: ignore[misc]
    assert SearchOptions(beam_size=4, n_best=4, alpha=0.0).n_best == 4


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(beam_size=0), "beam_size"),
        (dict(beam_size=2, n_best=3), "n_best"),
        (dict(n_best=0), "n_best"),
        (dict(alpha=-0.1), "alpha"),
        (dict(max_len=0), "max_len"),
    ],
)
def test_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SearchOptions(**kwargs)


@pytest.mark.parametrize("max_len", [0, -2])
def test_rejects_bad_max_len(max_len):
    with pytest.raises(ValueError, match="max_len"):
        SearchOptions(max_len=max_len)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(beam_size=1.5), "beam_size must be a positive integer or None, got 1.5"),
        (dict(beam_size=True), "beam_size must be a positive integer or None, got True"),
        (dict(beam_size=None), "beam_size and n_best must be positive integers, not None"),
        (dict(n_best=None), "beam_size and n_best must be positive integers, not None"),
        (dict(max_len=2.0), "max_len must be a positive integer or None, got 2.0"),
        (dict(beam_size=2, n_best=3), "n_best must be <= beam_size=2, got 3"),
        (dict(alpha=math.nan), "alpha .* must be >= 0, got nan"),
    ],
)
def test_search_options_name_the_bad_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SearchOptions(**kwargs)


def test_sampling_defaults():
    o = SamplingOptions()
    assert (o.max_new_tokens, o.temperature, o.top_k, o.top_p, o.eos_id) == (
        100,
        1.0,
        None,
        None,
        None,
    )
    assert (o.suppress_ids, o.first_token_ids, o.use_cache, o.greedy) == ((), None, True, False)
    assert (
        SamplingOptions(temperature=0).greedy
        and SamplingOptions(max_new_tokens=0).max_new_tokens == 0
    )


def test_id_lists_become_tuples_so_the_options_stay_immutable():
    o = SamplingOptions(suppress_ids=[1, 3], first_token_ids=[7])
    assert o.suppress_ids == (1, 3) and o.first_token_ids == (7,)
    assert hash(o) == hash(SamplingOptions(suppress_ids=(1, 3), first_token_ids=(7,)))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(max_new_tokens=-1), "max_new_tokens"),
        (dict(max_new_tokens=3, temperature=-1.0), "temperature"),
        (dict(max_new_tokens=3, top_k=0), "top_k"),
        (dict(max_new_tokens=3, top_p=2.0), "top_p"),
    ],
)
def test_generate_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SamplingOptions(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(max_new_tokens=2.5), "max_new_tokens must be an integer >= 0, got 2.5"),
        (dict(temperature=math.nan), r"temperature must be >= 0 \(0 means argmax\), got nan"),
        (dict(top_k=-3), "top_k must be a positive integer or None, got -3"),
        (dict(top_p=0.0), r"top_p must be in \(0, 1\] or None, got 0.0"),
        (dict(top_p=math.nan), r"top_p must be in \(0, 1\] or None, got nan"),
    ],
)
def test_sampling_options_name_the_bad_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SamplingOptions(**kwargs)


def test_check_sampling_accepts_the_edges():
    check_sampling(temperature=0.0, top_k=1, top_p=1.0)
    check_sampling(temperature=2.0, top_k=None, top_p=None)
    with pytest.raises(ValueError, match="temperature"):
        check_sampling(temperature=-1e-9, top_k=None, top_p=None)
