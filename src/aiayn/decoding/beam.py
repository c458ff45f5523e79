"""Beam search for the encoder-decoder (section 6.1: beam size 4, length penalty alpha = 0.6).

Notation used in the shape comments:
    B  batch (sources)      A  sources still searching (A <= B)      K  beam size
    S  source length        D  d_model                               V  target vocabulary size

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

That stopping test is exact for alpha = 0 (log-probabilities only fall as a hypothesis grows).
For alpha > 0 a live beam might still overtake the finished one, since lp grows with length; the
test then is the usual heuristic (it is what makes beam size 1 exactly greedy decoding).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from aiayn.decoding._common import check_source, output_length_limits, warn_if_training
from aiayn.decoding.greedy import greedy_decode
from aiayn.decoding.options import SearchOptions
from aiayn.models.encoder_decoder import EncoderDecoder

PAPER_BEAM = SearchOptions(beam_size=4, alpha=0.6)  # section 6.1
GREEDY_OPTIONS = SearchOptions()


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
    beam_size, alpha, n_best = options.beam_size, options.alpha, options.n_best
    max_len, use_cache = options.max_len, options.use_cache
    device = src.device
    B, K = src.size(0), beam_size
    limits = output_length_limits(
        src, pad_id=model.config.pad_id, model_max_len=model.config.max_len, max_len=max_len
    )  # (B,)
    memory, src_mask = model.encode(src)  # (B, S, D), (B, 1, 1, S)
    # The beams of a source sit next to each other: row b*K + k is beam k of source b.
    memory = memory.repeat_interleave(K, dim=0)  # (B, S, D) -> (B*K, S, D)
    src_mask = src_mask.repeat_interleave(K, dim=0)  # (B, 1, 1, S) -> (B*K, 1, 1, S)
    cache = model.new_cache() if use_cache else None

    prefix = torch.full((B * K, 1), bos_id, dtype=torch.long, device=device)  # (A*K, step)
    # Only beam 0 is live at first, so the first step does not pick the same token K times.
    scores = torch.full((B, K), float("-inf"), device=device)  # (A, K) summed log-probs
    scores[:, 0] = 0.0
    active = torch.arange(B, device=device)  # (A,) which source each active row is
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    # Per source, the score a live beam must beat: the n_best-th best finished one (or -inf).
    threshold = torch.full((B,), float("-inf"), device=device)

    step = 0
    while True:
        step += 1
        A = active.numel()
        new = prefix[:, -1:] if cache is not None else prefix  # (A*K, 1) or (A*K, step)
        logits = model.decode(new, memory, src_mask, cache=cache)[:, -1]  # (A*K, V)
        log_probs = F.log_softmax(logits.float(), dim=-1)
        V = log_probs.size(-1)
        if V < 2:
            raise ValueError(f"beam search needs a target vocabulary of >= 2 tokens, got {V}")
        candidates = scores[:, :, None] + log_probs.view(A, K, V)  # (A*K, V) -> (A, K, V)
        top_scores, top_index = candidates.view(A, K * V).topk(2 * K, dim=1)  # (A, 2K)
        parent = top_index // V  # (A, 2K) the beam each candidate extends
        token = top_index % V  # (A, 2K)
        is_eos = token == eos_id
        rank = torch.arange(2 * K, device=device)

        # Live beams: the K best candidates that do not end in EOS (sorted: EOS ones go last).
        order = (is_eos.long() * 2 * K + rank).argsort(dim=1)[:, :K]  # (A, K)
        live_scores = top_scores.gather(1, order)  # (A, K), best first
        live_parent = parent.gather(1, order)
        live_token = token.gather(1, order)

        lp = length_penalty(step, alpha=alpha)
        at_limit = limits[active] <= step  # (A,)
        new_finished = is_eos & (rank < K) & torch.isfinite(top_scores)  # (A, 2K)
        touched: set[int] = set()
        for a, r in new_finished.nonzero().tolist():  # a few per step: finished bookkeeping
            row = a * K + int(parent[a, r])
            s = float(top_scores[a, r])
            hyp = Hypothesis(tokens=prefix[row, 1:].tolist(), score=s / lp, log_prob=s, ended=True)
            finished[int(active[a])].append(hyp)
            touched.add(int(active[a]))
        for a in at_limit.nonzero().flatten().tolist():  # out of length: finish the live beams
            for j in range(K):
                s = float(live_scores[a, j])
                if s == float("-inf"):
                    continue
                row = a * K + int(live_parent[a, j])
                tokens = prefix[row, 1:].tolist() + [int(live_token[a, j])]
                finished[int(active[a])].append(
                    Hypothesis(tokens=tokens, score=s / lp, log_prob=s, ended=False)
                )
            touched.add(int(active[a]))
        for i in touched:
            finished[i].sort(key=lambda h: h.score, reverse=True)
            if len(finished[i]) >= n_best:
                threshold[i] = finished[i][n_best - 1].score

        # A source is done when no live beam beats its n_best-th finished hypothesis.
        done = at_limit | (threshold[active] >= live_scores[:, 0] / lp)  # (A,)
        keep = ~done
        if not bool(keep.any()):
            break
        rows = (torch.arange(A, device=device)[:, None] * K + live_parent)[keep].view(-1)  # (A'*K,)
        prefix = torch.cat([prefix.index_select(0, rows), live_token[keep].view(-1, 1)], dim=1)
        scores = live_scores[keep]  # (A', K)
        if cache is not None:
            cache.reorder(rows)  # follow each live beam's parent; drop the finished sources
        kept_rows = keep.repeat_interleave(K)  # (A*K,)
        memory, src_mask = memory[kept_rows], src_mask[kept_rows]
        active = active[keep]

    return [hyps[:n_best] for hyps in finished]


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
