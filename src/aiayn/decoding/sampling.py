"""Sampling from a language model: temperature, top-k and nucleus (top-p) filtering, and `generate`.

Notation used in the shape comments:
    B  batch      T  prompt length      N  new tokens      V  vocabulary size

`filter_logits` and `sample_next_token` work on any (B, V) logits, the encoder-decoder's too.
Randomness comes only from the `torch.Generator` passed in, so a seeded generator repeats a sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from aiayn.decoding._common import warn_if_training
from aiayn.decoding.options import SamplingOptions, check_sampling
from aiayn.models.decoder_only import DecoderOnlyLM


def filter_logits(
    logits: Tensor, *, top_k: int | None = None, top_p: float | None = None
) -> Tensor:
    """(..., V) logits -> (..., V) logits with the excluded tokens set to -inf.

    top_k keeps the k largest logits (all of them if k >= V). top_p (nucleus sampling) keeps the
    smallest set of most probable tokens whose probabilities sum to >= p; the most probable token
    is always kept. When both are given, top-k is applied first, then top-p on what remains.
    """
    check_sampling(temperature=1.0, top_k=top_k, top_p=top_p)
    neg_inf = float("-inf")
    if top_k is not None and top_k < logits.size(-1):
        values, index = logits.topk(top_k, dim=-1)  # (..., k)
        logits = torch.full_like(logits, neg_inf).scatter(-1, index, values)
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)  # (..., V)
        cumulative = sorted_logits.float().softmax(dim=-1).cumsum(dim=-1)  # (..., V)
        # Drop a token when the tokens before it already reach p (so the first one always stays).
        remove = torch.zeros_like(cumulative, dtype=torch.bool)
        remove[..., 1:] = cumulative[..., :-1] >= top_p
        sorted_logits = sorted_logits.masked_fill(remove, neg_inf)
        logits = torch.full_like(logits, neg_inf).scatter(-1, order, sorted_logits)
    return logits


def sample_next_token(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """(B, V) next-token logits -> (B,) sampled ids.

    The logits are divided by `temperature`, filtered (`filter_logits`), then sampled from.
    `temperature=0` is the limit of ever lower temperatures: the argmax, with no randomness.
    """
    check_sampling(temperature=temperature, top_k=top_k, top_p=top_p)
    if logits.dim() != 2:
        raise ValueError(f"logits must be (B, V), got shape {tuple(logits.shape)}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits.float() / temperature, top_k=top_k, top_p=top_p)
    probs = logits.softmax(dim=-1)  # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)  # (B, 1) -> (B,)


@dataclass(frozen=True)
class GenerationOutput:
    """tokens: (B, T + N) the prompt and what followed it; logits: (B, N, V) the model's raw
    logits (before temperature and filtering) that each new token was drawn from."""

    tokens: Tensor
    logits: Tensor


def generate_with_logits(
    model: DecoderOnlyLM,
    prompt_ids: Tensor,
    options: SamplingOptions,
    *,
    generator: torch.Generator | None = None,
) -> GenerationOutput:
    """Continue each (B, T) prompt by up to `options.max_new_tokens` tokens; keep the logits of
    each step. See `SamplingOptions` for temperature, top-k / top-p, EOS, suppressed tokens and
    token healing; randomness comes only from `generator`.

    With `eos_id`, a row that produced EOS is continued with `model.config.pad_id`, and generation
    stops early once every row has; N is then smaller than `max_new_tokens`.

    Sliding window: the model embeds positions below `model.config.max_len` only. Once the
    sequence is longer than that, each next token is predicted from the last `max_len` tokens,
    recomputed from scratch at positions 0 .. max_len - 1: a KV cache cannot slide, because the
    cached keys and values carry the absolute positions they were computed at. Until then, the
    cache (`use_cache=True`) gives the same logits as recomputation.

    The returned logits are the model's own (before temperature, filtering and suppression).
    The model is used in whatever mode it is in: call `model.eval()` first.
    """
    if prompt_ids.dim() != 2 or prompt_ids.size(1) == 0 or prompt_ids.dtype != torch.long:
        raise ValueError(
            "prompt_ids must be a (B, T) int64 tensor with T >= 1, got shape "
            f"{tuple(prompt_ids.shape)} and dtype {prompt_ids.dtype}"
        )
    warn_if_training(model)
    with torch.inference_mode():
        tokens, logits = _generate(model, prompt_ids, options, generator)
    # Copies made outside inference mode are ordinary tensors, usable later with autograd.
    return GenerationOutput(tokens=tokens.clone(), logits=logits.clone())


def _generate(
    model: DecoderOnlyLM,
    prompt_ids: Tensor,
    o: SamplingOptions,
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor]:
    """The sampling loop of `generate_with_logits`, under inference mode, arguments checked."""
    window = model.config.max_len
    B, T = prompt_ids.shape
    # The prompt and every new token, written in place; `length` of them are filled so far.
    tokens = prompt_ids.new_full((B, T + o.max_new_tokens), model.config.pad_id)  # (B, T + N)
    tokens[:, :T] = prompt_ids
    length = T
    capacity = min(T + o.max_new_tokens, window)
    cache = model.new_cache(capacity=capacity) if o.use_cache else None
    pending = prompt_ids  # what the cache has not seen yet: first the prompt, then one token
    done = torch.zeros(B, dtype=torch.bool, device=tokens.device)
    step_logits: list[Tensor] = []
    suppress = torch.tensor(o.suppress_ids, dtype=torch.long, device=tokens.device)
    for step in range(o.max_new_tokens):
        if cache is not None and length <= window:
            logits = model(pending, cache=cache)[:, -1]  # (B, T_new, V) -> (B, V)
        else:
            cache = None  # past max_len the window slides; the cache can no longer be used
            logits = model(tokens[:, max(0, length - window) : length])[:, -1]  # (B, V)
        allowed = logits.index_fill(1, suppress, float("-inf")) if o.suppress_ids else logits
        if step == 0 and o.first_token_ids is not None:
            only = torch.full_like(allowed, float("-inf"))
            only[:, list(o.first_token_ids)] = 0.0
            allowed = allowed + only  # (B, V): -inf outside first_token_ids
        token = sample_next_token(
            allowed,
            temperature=o.temperature,
            top_k=o.top_k,
            top_p=o.top_p,
            generator=generator,
        )  # (B,)
        if o.eos_id is not None:
            token = token.masked_fill(done, model.config.pad_id)
            done |= token == o.eos_id
        step_logits.append(logits)
        tokens[:, length] = token
        pending = tokens[:, length : length + 1]  # (B, 1)
        length += 1
        if o.eos_id is not None and bool(done.all()):
            break
    if step_logits:
        logits = torch.stack(step_logits, dim=1)  # N x (B, V) -> (B, N, V)
    else:
        V = model.config.vocab_size
        logits = torch.empty(B, 0, V, device=tokens.device)
    return tokens[:, :length], logits  # (B, T + N), (B, N, V)


def generate(
    model: DecoderOnlyLM,
    prompt_ids: Tensor,
    options: SamplingOptions,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Continue each (B, T) prompt -> (B, T + N) ids, N <= options.max_new_tokens.

    See `generate_with_logits`; call `model.eval()` first.
    """
    return generate_with_logits(model, prompt_ids, options, generator=generator).tokens
