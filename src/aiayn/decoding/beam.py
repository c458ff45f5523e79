"""Beam search for the encoder-decoder (section 6.1: beam size 4, length penalty alpha = 0.6).

Notation used in the shape comments:
    B  batch (sources)      A  sources still searching (A <= B)      K  beam size
    N  n_best               L  the longest output allowed            V  target vocabulary size

Every active source keeps K live hypotheses, scored by their summed log-probabilities. At each step
the K * V extensions of a source are ranked and the best 2K kept: at most K of them end in EOS (one
per beam), so at least K do not. An EOS candidate ranked among the first K becomes a finished
hypothesis, normalised by the GNMT length penalty

    lp(Y) = ((5 + |Y|) / 6) ** alpha        (|Y| counts the generated tokens, EOS included)

and the K best non-EOS candidates become the next live beams; the KV cache follows them with
`cache.reorder`. A source stops when its `n_best`-th best finished score is at least the best live
score normalised at the current length, or at its length limit (its real length + 50, capped by
the model's `max_len`), where the live beams are finished as they are. Stopped sources leave the
batch, so the others decode faster.

All the bookkeeping is tensors on the model's device: the live beams' tokens (A, K, L), and per
source the N best finished hypotheses so far (`_Finished`), merged with each step's candidates by
one `topk`. The host learns only once a step whether some source has stopped.

That stopping test is exact for alpha = 0 (log-probabilities only fall as a hypothesis grows).
For alpha > 0 a live beam might still overtake the finished one, since lp grows with length; the
test then is the usual heuristic (it is what makes beam size 1 exactly greedy decoding).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from aiayn.decoding._common import (
    check_source,
    constrain,
    output_length_limits,
    warn_if_training,
)
from aiayn.decoding.greedy import greedy_decode
from aiayn.decoding.options import SearchOptions
from aiayn.models.encoder_decoder import EncoderDecoder

PAPER_BEAM = SearchOptions(beam_size=4, alpha=0.6)  # section 6.1
GREEDY_OPTIONS = SearchOptions()
NEG_INF = float("-inf")


@dataclass(frozen=True)
class Hypothesis:
    """One output of beam search.

    tokens: the generated ids, without BOS and EOS.
    score: log_prob / lp(length), what the hypotheses are ranked by.
    log_prob: the summed log-probabilities of the generated tokens (EOS included when `ended`).
    ended: True if it ended with EOS, False if the length limit cut it off.
    """

    tokens: list[int]
    score: float
    log_prob: float
    ended: bool

    @property
    def length(self) -> int:
        """|Y| of the length penalty: the generated tokens, EOS included."""
        return len(self.tokens) + int(self.ended)


def length_penalty(length: int, *, alpha: float) -> float:
    """GNMT's lp(Y) = ((5 + |Y|) / 6) ** alpha; alpha = 0 turns it off (lp = 1)."""
    return ((5.0 + length) / 6.0) ** alpha


@dataclass
class _Finished:
    """Per source, the N best finished hypotheses so far, best first (score -inf: none yet).

    tokens (A, N, L) generated ids (without BOS and EOS; only the first `length` count),
    score (A, N) log_prob / lp, log_prob (A, N), length (A, N), ended (A, N) bool.
    """

    tokens: Tensor
    score: Tensor
    log_prob: Tensor
    length: Tensor
    ended: Tensor

    @classmethod
    def empty(cls, A: int, N: int, L: int, device: torch.device) -> _Finished:
        return cls(
            tokens=torch.zeros(A, N, L, dtype=torch.long, device=device),
            score=torch.full((A, N), NEG_INF, device=device),
            log_prob=torch.full((A, N), NEG_INF, device=device),
            length=torch.zeros(A, N, dtype=torch.long, device=device),
            ended=torch.zeros(A, N, dtype=torch.bool, device=device),
        )

    def merge(self, new: _Finished) -> None:
        """Keep the N best of these and `new` (A, M candidates; score -inf for none)."""
        N = self.score.size(1)
        score = torch.cat([self.score, new.score], dim=1)  # (A, N + M)
        best = score.topk(N, dim=1).indices  # (A, N), best first
        self.score = score.gather(1, best)
        self.log_prob = torch.cat([self.log_prob, new.log_prob], dim=1).gather(1, best)
        self.length = torch.cat([self.length, new.length], dim=1).gather(1, best)
        self.ended = torch.cat([self.ended, new.ended], dim=1).gather(1, best)
        tokens = torch.cat([self.tokens, new.tokens], dim=1)  # (A, N + M, L)
        self.tokens = tokens.gather(1, best[..., None].expand(-1, -1, tokens.size(2)))

    def rows(self, keep: Tensor) -> _Finished:
        """The sources `keep` (a bool mask or an index) selects."""
        return _Finished(
            *(t[keep] for t in (self.tokens, self.score, self.log_prob, self.length, self.ended))
        )

    def hypotheses(self) -> list[list[Hypothesis]]:
        """Per source, its finished hypotheses as Python objects (one copy to the host)."""
        tokens, score = self.tokens.tolist(), self.score.tolist()
        log_prob, length, ended = self.log_prob.tolist(), self.length.tolist(), self.ended.tolist()
        return [
            [
                Hypothesis(tokens[a][j][: length[a][j]], score[a][j], log_prob[a][j], ended[a][j])
                for j in range(len(score[a]))
                if score[a][j] > NEG_INF
            ]
            for a in range(len(score))
        ]


def _pick(tokens: Tensor, beams: Tensor) -> Tensor:
    """tokens (A, K, L), beams (A, M) beam indices -> (A, M, L) those beams' tokens."""
    return tokens.gather(1, beams[..., None].expand(-1, -1, tokens.size(2)))


@torch.inference_mode()
def beam_search(
    model: EncoderDecoder,
    src: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    options: SearchOptions = PAPER_BEAM,
) -> list[list[Hypothesis]]:
    """Beam search over a (B, S) right-padded batch of sources -> per source, its
    `options.n_best` hypotheses, best first.

    See `SearchOptions` for the beam size, the length penalty, the length limit and the cache.
    Beam size 1 is greedy decoding.

    The model is used in whatever mode it is in: call `model.eval()` first.
    """
    check_source(src)
    warn_if_training(model)
    K, N, alpha = options.beam_size, options.n_best, options.alpha
    device = src.device
    B = src.size(0)
    limits = output_length_limits(
        src, pad_id=model.config.pad_id, model_max_len=model.config.max_len, max_len=options.max_len
    )  # (B,)
    L = int(limits.max())
    # The beams of a source sit next to each other: decoder row a*K + k is beam k of source a.
    # They share the source's memory (one row per source): its keys and values are projected
    # once and change only when a source stops, not whenever the beams reorder.
    memory, src_mask = model.encode(src)  # (B, S, D), (B, 1, 1, S)
    cache = model.new_cache(capacity=L) if options.use_cache else None

    alive = torch.zeros(B, K, L, dtype=torch.long, device=device)  # (A, K, L) generated ids
    bos = torch.full((B * K, 1), bos_id, dtype=torch.long, device=device)
    # Only beam 0 is live at first, so the first step does not pick the same token K times.
    scores = torch.full((B, K), NEG_INF, device=device)  # (A, K) summed log-probs
    scores[:, 0] = 0.0
    finished = _Finished.empty(B, N, L, device)  # of the active sources
    results = _Finished.empty(B, N, L, device)  # of every source, filled as each one stops
    active = torch.arange(B, device=device)  # (A,) which source each active row is
    rank = torch.arange(2 * K, device=device)

    for step in range(1, L + 1):
        A = active.numel()
        if cache is not None:  # the newest input of each beam: BOS, then its last token
            new = bos[: A * K] if step == 1 else alive[:, :, step - 2].reshape(A * K, 1)
        else:  # the whole input so far: BOS and the generated tokens, (A*K, step)
            new = torch.cat([bos[: A * K], alive[:, :, : step - 1].reshape(A * K, -1)], dim=1)
        logits = model.decode(new, memory, src_mask, cache=cache)[:, -1]  # (A*K, V)
        log_probs = F.log_softmax(logits.float(), dim=-1)
        V = log_probs.size(-1)
        if V < 2:
            raise ValueError(f"beam search needs a target vocabulary of >= 2 tokens, got {V}")
        if options.min_len or options.no_repeat_ngram:
            log_probs = constrain(
                log_probs,
                alive[:, :, : step - 1].reshape(A * K, step - 1),
                eos_id=eos_id,
                min_len=options.min_len,
                no_repeat_ngram=options.no_repeat_ngram,
            )
        candidates = scores[:, :, None] + log_probs.view(A, K, V)  # (A*K, V) -> (A, K, V)
        top_scores, top_index = candidates.view(A, K * V).topk(2 * K, dim=1)  # (A, 2K)
        parent = top_index // V  # (A, 2K) the beam each candidate extends
        token = top_index % V  # (A, 2K)
        is_eos = token == eos_id

        # Live beams: the K best candidates that do not end in EOS (sorted: EOS ones go last).
        order = (is_eos.long() * 2 * K + rank).argsort(dim=1)[:, :K]  # (A, K)
        live_scores = top_scores.gather(1, order)  # (A, K), best first
        live_parent = parent.gather(1, order)
        live_token = token.gather(1, order)

        # Finished this step: EOS among the first K candidates, and at the length limit the
        # live beams as they are.
        lp = length_penalty(step, alpha=alpha)
        at_limit = limits[active] <= step  # (A,)
        ends = is_eos & (rank < K) & torch.isfinite(top_scores)  # (A, 2K)
        cut = at_limit[:, None] & torch.isfinite(live_scores)  # (A, K)
        cut_tokens = _pick(alive, live_parent)  # (A, K, L)
        cut_tokens[:, :, step - 1] = live_token
        finished.merge(
            _Finished(
                tokens=torch.cat([_pick(alive, parent), cut_tokens], dim=1),  # (A, 3K, L)
                score=torch.cat(
                    [
                        top_scores.masked_fill(~ends, NEG_INF),
                        live_scores.masked_fill(~cut, NEG_INF),
                    ],
                    dim=1,
                )
                / lp,
                log_prob=torch.cat([top_scores, live_scores], dim=1),
                length=torch.cat(
                    [torch.full_like(token, step - 1), torch.full_like(live_token, step)], dim=1
                ),
                ended=torch.cat([ends, torch.zeros_like(cut)], dim=1),
            )
        )
        # A source is done when no live beam beats its n_best-th finished hypothesis.
        done = at_limit | (finished.score[:, N - 1] >= live_scores[:, 0] / lp)  # (A,)

        alive = _pick(alive, live_parent)  # (A, K, L): each live beam continues its parent
        alive[:, :, step - 1] = live_token
        scores = live_scores
        rows = torch.arange(A, device=device)[:, None] * K + live_parent  # (A, K) cache rows
        if bool(done.any()):  # the one host synchronisation of a step
            stopped = done.nonzero().squeeze(1)
            for name in ("tokens", "score", "log_prob", "length", "ended"):
                getattr(results, name)[active[stopped]] = getattr(finished, name)[stopped]
            keep = ~done
            if not bool(keep.any()):
                break
            alive, scores, rows, active = alive[keep], scores[keep], rows[keep], active[keep]
            finished = finished.rows(keep)
            memory, src_mask = memory[keep], src_mask[keep]
            if cache is not None:
                cache.select_memory(keep.nonzero().squeeze(1))
        if cache is not None:
            cache.reorder(rows.reshape(-1))  # follow each live beam's parent; drop stopped ones
    return [hyps[:N] for hyps in results.hypotheses()]


def beam_decode(
    model: EncoderDecoder,
    src: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    options: SearchOptions = PAPER_BEAM,
) -> list[list[int]]:
    """Beam search of a (B, S) batch of sources -> per source, the best hypothesis's ids (without
    BOS and EOS). The same interface as `greedy_decode`; see `beam_search`."""
    results = beam_search(model, src, bos_id=bos_id, eos_id=eos_id, options=options)
    return [hyps[0].tokens for hyps in results]


def decode(
    model: EncoderDecoder,
    src: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    options: SearchOptions = GREEDY_OPTIONS,
) -> list[list[int]]:
    """Per source, the output ids (without BOS and EOS): greedy decoding when
    `options.beam_size` is 1, beam search otherwise."""
    if options.beam_size == 1:
        return greedy_decode(model, src, bos_id=bos_id, eos_id=eos_id, options=options)
    return beam_decode(model, src, bos_id=bos_id, eos_id=eos_id, options=options)


def sequence_log_probs(
    model: EncoderDecoder, src: Tensor, targets: list[list[int]], *, bos_id: int
) -> Tensor:
    """(B, S) sources and B target id lists (EOS included where it was generated) -> (B,) the
    summed log-probability of each target given its source, teacher-forced in one pass.

    This is the score beam search ranks by (before the length penalty), computed independently:
    a check on the search and a way to score any hypothesis, e.g. greedy's.
    """
    check_source(src)
    if len(targets) != src.size(0):
        raise ValueError(f"need one target per source ({src.size(0)}), got {len(targets)}")
    if any(len(t) == 0 for t in targets):
        raise ValueError("every target must hold at least one token")
    pad_id = model.config.pad_id
    T = max(len(t) for t in targets)
    target = torch.full((len(targets), T), pad_id, dtype=torch.long, device=src.device)  # (B, T)
    for i, t in enumerate(targets):
        target[i, : len(t)] = torch.tensor(t, dtype=torch.long)
    bos = torch.full((len(targets), 1), bos_id, dtype=torch.long, device=src.device)
    tgt_in = torch.cat([bos, target[:, :-1]], dim=1)  # shifted right: (B, T)
    lengths = torch.tensor([len(t) for t in targets], device=src.device)  # (B,)
    real = torch.arange(T, device=src.device)[None, :] < lengths[:, None]  # (B, T)
    with torch.inference_mode():
        memory, src_mask = model.encode(src)
        logits = model.decode(tgt_in, memory, src_mask)  # (B, T, V)
        log_probs = F.log_softmax(logits.float(), dim=-1)
        picked = log_probs.gather(2, target[:, :, None]).squeeze(2)  # (B, T, V) -> (B, T)
        total = picked.masked_fill(~real, 0.0).sum(dim=1)  # (B,)
    return total.clone()  # an ordinary tensor, not an inference-mode one
