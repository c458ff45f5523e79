"""Greedy decoding for the encoder-decoder: at every step, take the most probable next token.

Notation used in the shape comments:
    B  batch (sources)      S  source length      D  d_model
    L  decoding steps       V  target vocabulary size

The whole batch decodes together. A row stops at its EOS or at its length limit (its real source
length + 50, section 6.1, capped by the model's `max_len`); once stopped it is fed `pad_id` until
the longest row ends, and what it produces then is ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from aiayn.decoding._common import (
    check_source,
    constrain,
    output_length_limits,
    warn_if_training,
)
from aiayn.decoding.options import SearchOptions
from aiayn.models.encoder_decoder import EncoderDecoder

GREEDY = SearchOptions()


@dataclass(frozen=True)
class GreedyOutput:
    """What greedy decoding produced, for a batch of B sources decoded for L steps.

    sequences: per source, the generated ids without BOS and EOS.
    ended: per source, whether it produced EOS (False: stopped by the length limit).
    tokens: (B, L) the id chosen at each step; `pad_id` after a row has stopped.
    logits: (B, L, V) the decoder's logits at each step (also after a row stopped).
    """

    sequences: list[list[int]]
    ended: list[bool]
    tokens: Tensor
    logits: Tensor


def greedy_decode_with_logits(
    model: EncoderDecoder,
    src: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    options: SearchOptions = GREEDY,
) -> GreedyOutput:
    """Greedy decoding of a (B, S) right-padded batch of sources, keeping every step's logits.

    `options.max_len` limits the output length and `options.use_cache` picks cached decoding or
    full recomputation (see `SearchOptions`); its beam size must be 1.

    The model is used in whatever mode it is in: call `model.eval()` first.
    """
    check_source(src)
    if options.beam_size != 1:
        raise ValueError(
            f"greedy decoding keeps one hypothesis, got beam_size={options.beam_size}; "
            "use aiayn.decoding.decode or beam_search"
        )
    warn_if_training(model)
    with torch.inference_mode():
        out = _greedy(model, src, bos_id=bos_id, eos_id=eos_id, options=options)
    # Copies made outside inference mode are ordinary tensors, usable later with autograd.
    return dataclasses.replace(out, tokens=out.tokens.clone(), logits=out.logits.clone())


def _greedy(
    model: EncoderDecoder, src: Tensor, *, bos_id: int, eos_id: int, options: SearchOptions
) -> GreedyOutput:
    pad_id = model.config.pad_id
    B = src.size(0)
    limits = output_length_limits(
        src, pad_id=pad_id, model_max_len=model.config.max_len, max_len=options.max_len
    )  # (B,)
    memory, src_mask = model.encode(src)  # (B, S, D), (B, 1, 1, S)
    steps = int(limits.max())
    cache = model.new_cache(capacity=steps) if options.use_cache else None

    # The decoder's inputs: BOS, then each step's token. With the cache a step reads only the
    # newest column; without it, the whole prefix so far.
    inputs = torch.full((B, steps), bos_id, dtype=torch.long, device=src.device)  # (B, L)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    ended = torch.zeros(B, dtype=torch.bool, device=src.device)
    step_tokens: list[Tensor] = []
    step_logits: list[Tensor] = []
    for step in range(1, steps + 1):
        new = inputs[:, step - 1 : step] if cache is not None else inputs[:, :step]  # (B, T)
        logits = model.decode(new, memory, src_mask, cache=cache)[:, -1]  # (B, T, V) -> (B, V)
        allowed = logits
        if options.min_len or options.no_repeat_ngram:
            allowed = constrain(
                logits,
                inputs[:, 1:step],
                eos_id=eos_id,
                min_len=options.min_len,
                no_repeat_ngram=options.no_repeat_ngram,
            )
        token = allowed.argmax(dim=-1)  # (B,)
        token = token.masked_fill(done, pad_id)  # stopped rows are fed padding
        step_tokens.append(token)
        step_logits.append(logits)
        is_eos = (token == eos_id) & ~done
        ended |= is_eos
        done |= is_eos | (limits <= step)
        if step == steps or bool(done.all()):
            break
        inputs[:, step] = token

    tokens = torch.stack(step_tokens, dim=1)  # L x (B,) -> (B, L)
    sequences = []
    for row, stop, row_ended in zip(tokens.tolist(), limits.tolist(), ended.tolist(), strict=True):
        row = row[:stop]
        sequences.append(row[: row.index(eos_id)] if row_ended else row)
    return GreedyOutput(
        sequences=sequences,
        ended=ended.tolist(),
        tokens=tokens,
        logits=torch.stack(step_logits, dim=1),  # L x (B, V) -> (B, L, V)
    )


def greedy_decode(
    model: EncoderDecoder,
    src: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    options: SearchOptions = GREEDY,
) -> list[list[int]]:
    """Greedy decoding of a (B, S) batch of sources -> per source, the ids without BOS and EOS.

    See `greedy_decode_with_logits` for the options; call `model.eval()` first.
    """
    return greedy_decode_with_logits(
        model, src, bos_id=bos_id, eos_id=eos_id, options=options
    ).sequences
