import math

import pytest
import torch
from torch.testing import assert_close

from aiayn.decoding import (
    SamplingOptions,
    filter_logits,
    generate,
    generate_with_logits,
    sample_next_token,
)

PAD, BOS, EOS = 0, 1, 2
NEG_INF = float("-inf")


def test_top_k_keeps_the_k_largest():
    logits = torch.tensor([[1.0, 4.0, 2.0, 3.0], [0.0, -1.0, 5.0, 2.0]])
    out = filter_logits(logits, top_k=2)
    expected = torch.tensor([[NEG_INF, 4.0, NEG_INF, 3.0], [NEG_INF, NEG_INF, 5.0, 2.0]])
    assert torch.equal(out, expected)
    assert torch.equal(filter_logits(logits, top_k=10), logits)


@pytest.mark.parametrize(
    ("top_p", "kept"),
    [
        (0.3, {2}),
        (0.45, {2}),
        (0.75, {2, 0}),
        (0.85, {2, 0, 3}),
        (0.97, {2, 0, 3, 1}),
        (1.0, {0, 1, 2, 3}),
    ],
)
def test_top_p_keeps_the_smallest_set_reaching_p(top_p, kept):
    probs = torch.tensor([[0.3, 0.04, 0.5, 0.15, 0.01]])  # sorted: 0.5, 0.3, 0.15, 0.04, 0.01
    kept = kept | ({4} if top_p == 1.0 else set())
    out = filter_logits(probs.log(), top_p=top_p)
    assert set(torch.isfinite(out[0]).nonzero().flatten().tolist()) == kept
    assert_close(out[0, sorted(kept)], probs.log()[0, sorted(kept)])


def test_top_k_then_top_p():
    probs = torch.tensor([[0.3, 0.04, 0.5, 0.15, 0.01]])
    # top-2 leaves {0.5, 0.3}, i.e. 0.625 and 0.375 after renormalising; p = 0.6 keeps only 0.5
    out = filter_logits(probs.log(), top_k=2, top_p=0.6)
    assert torch.isfinite(out[0]).nonzero().flatten().tolist() == [2]


def test_temperature_zero_is_argmax():
    logits = torch.randn(16, 50, generator=torch.Generator().manual_seed(0))
    assert torch.equal(sample_next_token(logits, temperature=0.0), logits.argmax(dim=-1))
    # a tiny temperature concentrates all the mass on the argmax too
    g = torch.Generator().manual_seed(1)
    assert torch.equal(
        sample_next_token(logits, temperature=1e-4, generator=g), logits.argmax(dim=-1)
    )


def test_top_k_1_is_greedy():
    logits = torch.randn(16, 50, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(2)
    for _ in range(5):
        assert torch.equal(
            sample_next_token(logits, top_k=1, generator=g, temperature=1.7),
            logits.argmax(dim=-1),
        )


def test_samples_only_kept_tokens_with_the_right_frequencies():
    logits = torch.tensor([[0.3, 0.04, 0.5, 0.15, 0.01]]).log().expand(4000, 5)
    g = torch.Generator().manual_seed(3)
    tokens = sample_next_token(logits, top_p=0.75, generator=g)
    counts = torch.bincount(tokens, minlength=5).float() / tokens.numel()
    assert counts[1] == counts[3] == counts[4] == 0
    assert counts[2] == pytest.approx(0.5 / 0.8, abs=0.03)


def test_seeded_sampling_is_reproducible_and_seeds_differ():
    logits = torch.randn(8, 30, generator=torch.Generator().manual_seed(0))
    draw = [
        sample_next_token(logits, top_p=0.9, generator=torch.Generator().manual_seed(seed))
        for seed in (7, 7, 8)
    ]
    assert torch.equal(draw[0], draw[1])
    assert not torch.equal(draw[0], draw[2])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(temperature=-0.5), "temperature"),
        (dict(top_k=0), "top_k"),
        (dict(top_p=0.0), "top_p"),
        (dict(top_p=1.5), "top_p"),
        (dict(top_p=math.nan), "top_p"),
    ],
)
def test_rejects_bad_sampling_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        sample_next_token(torch.zeros(2, 5), **kwargs)


# generate, on the decoder-only LM


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cached_generation_equals_recomputation(seed, make_lm):
    model = make_lm(seed, max_len=24)
    prompt = torch.randint(3, 10, (3, 5), generator=torch.Generator().manual_seed(seed))
    for sampling in (dict(temperature=0.0), dict(temperature=0.8, top_k=6)):
        outs = [
            generate_with_logits(
                model,
                prompt,
                SamplingOptions(max_new_tokens=19, use_cache=use_cache, **sampling),
                generator=torch.Generator().manual_seed(seed),
            )
            for use_cache in (True, False)
        ]
        assert torch.equal(outs[0].tokens, outs[1].tokens)
        assert_close(outs[0].logits, outs[1].logits)
        assert outs[0].tokens.shape == (3, 24)
        assert torch.equal(outs[0].tokens[:, :5], prompt)


def test_seeded_generation_is_reproducible_and_seeds_differ(make_lm):
    model = make_lm(3)
    prompt = torch.full((2, 1), BOS)

    def run(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return generate(model, prompt, SamplingOptions(max_new_tokens=15), generator=g)

    assert torch.equal(run(4), run(4))
    assert not torch.equal(run(4), run(5))


def test_generation_slides_a_window_past_max_len(make_lm):
    model = make_lm(4, max_len=8)
    prompt = torch.randint(3, 10, (2, 3), generator=torch.Generator().manual_seed(0))
    for use_cache in (True, False):
        out = generate_with_logits(
            model, prompt, SamplingOptions(max_new_tokens=12, temperature=0.0, use_cache=use_cache)
        )
        assert out.tokens.shape == (2, 15)
        # Each step's logits are those of the last (at most) 8 tokens, recomputed from position 0.
        for step in range(12):
            context = out.tokens[:, : 3 + step][:, -8:]
            assert_close(out.logits[:, step], model(context)[:, -1])
            assert torch.equal(out.tokens[:, 3 + step], out.logits[:, step].argmax(dim=-1))


def test_prompt_longer_than_max_len(make_lm):
    model = make_lm(5, max_len=8)
    prompt = torch.randint(3, 10, (1, 11), generator=torch.Generator().manual_seed(0))
    out = generate_with_logits(model, prompt, SamplingOptions(max_new_tokens=2, temperature=0.0))
    assert_close(out.logits[:, 0], model(prompt[:, -8:])[:, -1])


def test_generation_stops_at_eos(make_lm, steer, eos_after_five):
    model = steer(make_lm(6), eos_after_five)
    prompt = torch.randint(3, 10, (4, 2), generator=torch.Generator().manual_seed(0))
    prompt[0, 1] = 5  # row 0 ends at once
    tokens = generate(
        model, prompt, SamplingOptions(max_new_tokens=20, temperature=0.0, eos_id=EOS)
    )
    assert tokens[0, 2] == EOS
    for row in tokens[:, 2:].tolist():
        end = row.index(EOS)  # every row ended: positions >= 6 force EOS
        assert all(t == PAD for t in row[end + 1 :])
    assert tokens.size(1) < 2 + 20  # stopped once every row had ended


def test_zero_new_tokens_returns_the_prompt(make_lm):
    prompt = torch.tensor([[3, 4, 5]])
    out = generate_with_logits(make_lm(0), prompt, SamplingOptions(max_new_tokens=0))
    assert torch.equal(out.tokens, prompt)
    assert out.logits.shape == (1, 0, 10)


def test_generate_rejects_an_empty_prompt(make_lm):
    with pytest.raises(ValueError, match="prompt_ids"):
        generate(make_lm(0), torch.zeros(2, 0, dtype=torch.long), SamplingOptions(max_new_tokens=3))


def test_suppressed_tokens_are_never_produced(make_lm):
    model = make_lm(7)
    prompt = torch.randint(3, 10, (3, 2), generator=torch.Generator().manual_seed(0))
    free = generate_with_logits(model, prompt, SamplingOptions(max_new_tokens=10, temperature=0.0))
    banned = sorted(set(free.tokens[:, 2:].flatten().tolist()))[:2]  # tokens greedy does choose
    out = generate_with_logits(
        model, prompt, SamplingOptions(max_new_tokens=10, temperature=0.0, suppress_ids=banned)
    )
    assert not any(t in banned for t in out.tokens[:, 2:].flatten().tolist())
    assert_close(out.logits[:, 0], free.logits[:, 0])  # the returned logits are the model's own
    g = torch.Generator().manual_seed(1)
    sampled = generate(
        model, prompt, SamplingOptions(max_new_tokens=30, suppress_ids=banned), generator=g
    )
    assert not any(t in banned for t in sampled[:, 2:].flatten().tolist())


def test_first_token_ids_limit_only_the_first_new_token(make_lm):
    model = make_lm(8)
    prompt = torch.randint(3, 10, (2, 3), generator=torch.Generator().manual_seed(0))
    free = generate_with_logits(model, prompt, SamplingOptions(max_new_tokens=6, temperature=0.0))
    choice = [t for t in range(3, 10) if t not in free.tokens[:, 3].tolist()][:2]
    out = generate_with_logits(
        model, prompt, SamplingOptions(max_new_tokens=6, temperature=0.0, first_token_ids=choice)
    )
    assert all(t in choice for t in out.tokens[:, 3].tolist())
    best = choice[int(free.logits[0, 0, choice].argmax())]
    assert out.tokens[0, 3].item() == best  # the likeliest of the allowed tokens
    after = out.tokens[:, :4]  # later steps are free: they are greedy from there on
    assert torch.equal(
        out.tokens, generate(model, after, SamplingOptions(max_new_tokens=5, temperature=0.0))
    )
