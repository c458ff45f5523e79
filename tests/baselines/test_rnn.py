"""The LSTM encoder-decoder: shapes, padding, cached decoding, the shared decoders and training."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from aiayn.baselines import LSTMEncoderDecoder, RecurrentDecoderCache, build_baseline
from aiayn.baselines.rnn import final_encoder_states, source_lengths
from aiayn.config import ModelConfig
from aiayn.decoding import SearchOptions, beam_decode, beam_search, greedy_decode
from aiayn.decoding.greedy import greedy_decode_with_logits
from aiayn.training.loss import compute_loss

PAD, BOS, EOS = 0, 1, 2
VOCAB = 12
SCORES = ["general", "dot", "additive"]


def config(**changes: object) -> ModelConfig:
    base = ModelConfig(
        arch="lstm-encoder-decoder",
        vocab_size=VOCAB,
        d_model=16,
        n_heads=1,
        n_layers=2,
        max_len=32,
        p_drop=0.0,
        tie_output=False,  # a random tied model mostly repeats its input: weak decoding tests
    )
    return base.replace(**changes)


def random_model(seed: int = 0, **changes: object) -> LSTMEncoderDecoder:
    torch.manual_seed(seed)
    return build_baseline(config(**changes)).eval()


def right_padded(rows: list[list[int]]) -> Tensor:
    out = torch.full((len(rows), max(len(r) for r in rows)), PAD)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


SOURCES = [[3, 4, 5, 6, 7], [8, 9], [10, 3, 11]]
TARGETS = [[BOS, 5, 6, 7], [BOS, 9, 8, 4], [BOS, 11]]


# -- shapes and configuration -----------------------------------------------------------------
@pytest.mark.parametrize("score", SCORES)
def test_shapes_and_mask(score: str) -> None:
    model = random_model(rnn_attention=score)
    src, tgt = right_padded(SOURCES), right_padded(TARGETS)  # (3, 5), (3, 4)
    assert model(src, tgt).shape == (3, 4, VOCAB)
    memory, src_mask = model.encode(src)
    assert memory.shape == (3, 5, 16)
    assert src_mask.shape == (3, 1, 1, 5) and src_mask.dtype == torch.bool
    assert torch.equal(src_mask[:, 0, 0], src != PAD)
    assert model.decode(tgt, memory, src_mask).shape == (3, 4, VOCAB)


def test_shared_embeddings_and_tied_output_share_one_matrix() -> None:
    model = random_model(share_embeddings=True, tie_output=True)
    assert model.src_embed is model.tgt_embed
    assert model.generator.weight is model.tgt_embed.weight
    untied = random_model(share_embeddings=False, tie_output=False, tgt_vocab_size=7)
    assert untied.src_embed.weight.shape == (VOCAB, 16)
    assert untied.tgt_embed.weight.shape == untied.generator.weight.shape == (7, 16)
    assert untied(right_padded(SOURCES), torch.tensor([[BOS, 5]] * 3)).shape == (3, 2, 7)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"arch": "encoder-decoder"}, "arch.*'encoder-decoder'"),
        ({"share_embeddings": True, "tgt_vocab_size": 7}, "share_embeddings.*7"),
        ({"d_model": 15, "n_heads": 1}, "d_model must be even.*15"),
        ({"n_decoder_layers": 3}, "n_decoder_layers.*3"),
    ],
)
def test_bad_configs_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_baseline(config(**changes))


def test_the_config_refuses_an_unknown_score() -> None:
    with pytest.raises(ValueError, match="rnn_attention.*'luong'"):
        config(rnn_attention="luong")


def test_left_padding_is_refused() -> None:
    model = random_model()
    with pytest.raises(ValueError, match="right-padded"):
        model.encode(torch.tensor([[PAD, 3, 4], [3, 4, 5]]))


def test_forget_gates_start_open_and_embeddings_unscaled() -> None:
    model = random_model(d_model=8)
    for lstm in (model.encoder.lstm, model.decoder.lstm):
        H = lstm.hidden_size
        for layer in range(lstm.num_layers):
            total = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
            torch.testing.assert_close(total[H : 2 * H], torch.ones(H))  # [i, f, g, o]: f
            assert not torch.allclose(total[:H], torch.ones(H))
    ids = torch.tensor([[3, 4]])
    torch.testing.assert_close(model.src_embed(ids), model.src_embed.weight[ids])


def test_dropout_is_active_in_training_only() -> None:
    model = random_model(p_drop=0.3)
    src, tgt = right_padded(SOURCES), right_padded(TARGETS)
    assert torch.equal(model(src, tgt), model(src, tgt))  # eval: deterministic
    model.train()
    assert not torch.equal(model(src, tgt), model(src, tgt))


# -- padding --------------------------------------------------------------------------------
def test_final_states_read_off_the_memory_are_the_lstms_own() -> None:
    model = random_model()
    src = right_padded(SOURCES)
    memory, src_mask = model.encode(src)
    lengths = source_lengths(src_mask[:, 0, 0])
    final = final_encoder_states(memory, lengths)  # (B, D)
    for i, row in enumerate(SOURCES):
        x = model.src_embed(torch.tensor([row]))  # each sentence alone: no padding at all
        _, (h_n, _) = model.encoder.lstm(x)  # h_n: (2L, 1, D/2), the top layer last
        torch.testing.assert_close(final[i], torch.cat([h_n[-2, 0], h_n[-1, 0]]))


@pytest.mark.parametrize("score", SCORES)
def test_source_padding_never_changes_a_real_position(score: str) -> None:
    model = random_model(rnn_attention=score)
    src = right_padded(SOURCES)  # sentences 1 and 2 are padded
    tgt = right_padded(TARGETS)
    batched = model(src, tgt)
    memory, _ = model.encode(src)
    for i, (s, t) in enumerate(zip(SOURCES, TARGETS, strict=True)):
        alone = model(torch.tensor([s]), torch.tensor([t]))[0]  # (len(t), V)
        torch.testing.assert_close(batched[i, : len(t)], alone)
        alone_memory, _ = model.encode(torch.tensor([s]))
        torch.testing.assert_close(memory[i, : len(s)], alone_memory[0])
    # And adding more padding to the whole batch changes nothing either.
    wider = torch.cat([src, torch.full((3, 4), PAD)], dim=1)
    torch.testing.assert_close(model(wider, tgt), batched)


def test_padded_source_positions_receive_no_attention() -> None:
    model = random_model()
    src, tgt = right_padded(SOURCES), right_padded(TARGETS)
    weights = model.alignments(src, tgt)  # (B, T, S)
    assert weights.shape == (3, 4, 5)
    assert torch.equal(
        weights.masked_select((src == PAD)[:, None, :].expand_as(weights)), torch.zeros(5 * 4)
    )
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4))


def test_a_source_without_real_tokens_gives_finite_logits() -> None:
    model = random_model()
    logits = model(torch.tensor([[3, 4], [PAD, PAD]]), torch.tensor([[BOS, 5], [BOS, 5]]))
    assert torch.isfinite(logits).all()


# -- cached decoding ------------------------------------------------------------------------
@pytest.mark.parametrize("score", SCORES)
def test_cached_steps_equal_the_teacher_forced_pass(score: str) -> None:
    model = random_model(rnn_attention=score)
    src, tgt = right_padded(SOURCES), right_padded(TARGETS)
    full = model(src, tgt)
    memory, src_mask = model.encode(src)
    cache = model.new_cache()
    assert isinstance(cache, RecurrentDecoderCache) and len(cache) == 0
    steps = []
    for t in range(tgt.size(1)):
        steps.append(model.decode(tgt[:, t : t + 1], memory, src_mask, cache=cache))
        assert len(cache) == t + 1
    torch.testing.assert_close(torch.cat(steps, dim=1), full)


def test_the_cache_resumes_from_a_prefix_of_several_positions() -> None:
    model = random_model()
    src, tgt = right_padded(SOURCES), right_padded(TARGETS)
    memory, src_mask = model.encode(src)
    cache = model.new_cache()
    first = model.decode(tgt[:, :3], memory, src_mask, cache=cache)
    rest = model.decode(tgt[:, 3:], memory, src_mask, cache=cache)
    assert len(cache) == 4
    torch.testing.assert_close(torch.cat([first, rest], dim=1), model(src, tgt))


# -- the shared decoders --------------------------------------------------------------------
@pytest.mark.parametrize("score", SCORES)
def test_greedy_with_and_without_cache_agree(score: str) -> None:
    model = random_model(rnn_attention=score)
    src = right_padded(SOURCES)
    cached = greedy_decode_with_logits(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=10)
    )
    plain = greedy_decode_with_logits(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=10, use_cache=False)
    )
    assert cached.sequences == plain.sequences
    torch.testing.assert_close(cached.logits, plain.logits)
    assert all(len(s) <= 10 for s in cached.sequences)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_size_one_is_greedy(seed: int) -> None:
    model = random_model(seed)
    src = right_padded(SOURCES)
    greedy = greedy_decode(model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(max_len=12))
    beam = beam_decode(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(beam_size=1, max_len=12)
    )
    assert beam == greedy


def test_beam_search_scores_are_the_models_log_probabilities() -> None:
    model = random_model(3)
    src = right_padded(SOURCES)
    results = beam_search(
        model, src, bos_id=BOS, eos_id=EOS, options=SearchOptions(beam_size=4, n_best=2, alpha=0.0)
    )
    cached = [h for hyps in results for h in hyps]
    uncached = beam_search(
        model,
        src,
        bos_id=BOS,
        eos_id=EOS,
        options=SearchOptions(beam_size=4, n_best=2, alpha=0.0, use_cache=False),
    )
    assert [h.tokens for hyps in uncached for h in hyps] == [h.tokens for h in cached]
    # Re-score every hypothesis teacher-forced: the cache, reordered between beams, must have
    # followed each one's own history.
    for i, hyps in enumerate(results):
        for h in hyps:
            out = h.tokens + ([EOS] if h.ended else [])
            tgt_in = torch.tensor([[BOS, *out[:-1]]])
            log_probs = model(src[i : i + 1, : len(SOURCES[i])], tgt_in).log_softmax(-1)[0]
            total = log_probs.gather(1, torch.tensor(out)[:, None]).sum()
            torch.testing.assert_close(total, torch.tensor(h.log_prob), atol=1e-4, rtol=1e-4)


# -- training ---------------------------------------------------------------------------------
def _copy_batch(g: torch.Generator, batch_size: int) -> dict[str, Tensor]:
    """Random sentences of 2-6 tokens in 3 .. VOCAB-1; the target is the source itself."""
    rows = []
    for _ in range(batch_size):
        n = int(torch.randint(2, 7, (1,), generator=g))
        rows.append(torch.randint(3, VOCAB, (n,), generator=g).tolist())
    return {
        "src": right_padded(rows),
        "tgt_in": right_padded([[BOS, *r] for r in rows]),
        "tgt_out": right_padded([[*r, EOS] for r in rows]),
    }


def _train_copy(steps: int) -> tuple[LSTMEncoderDecoder, list[float]]:
    """Adam on the copy task through aiayn's own loss; the model and the per-step losses."""
    torch.manual_seed(0)
    model = build_baseline(config(d_model=64, n_layers=1, share_embeddings=True, tie_output=True))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    model.train()
    losses = []
    for _ in range(steps):
        out = compute_loss(model, _copy_batch(g, 32), pad_id=PAD)
        loss = out.loss_sum / out.n_targets
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model.eval(), losses


@pytest.mark.slow
def test_compute_loss_trains_it() -> None:
    _, losses = _train_copy(120)
    assert losses[0] > 1.5  # about ln(VOCAB) at the start
    assert sum(losses[-10:]) / 10 < 0.5


@pytest.mark.slow
def test_a_few_hundred_steps_learn_to_copy() -> None:
    model, losses = _train_copy(300)
    assert sum(losses[-10:]) / 10 < 0.05
    test = _copy_batch(torch.Generator().manual_seed(99), 16)
    assert greedy_decode(model, test["src"], bos_id=BOS, eos_id=EOS) == [
        row[row != PAD].tolist() for row in test["src"]
    ]
