"""How to decode, as two small frozen types checked when they are made.

- `SearchOptions`: an encoder-decoder's output for a source (greedy when `beam_size` is 1, else
  beam search with the GNMT length penalty, section 6.1).
- `SamplingOptions`: a language model's continuation of a prompt (temperature, top-k, top-p).

Every decoding function takes one of these instead of re-declaring its parameters, so a setting
is defined, documented and checked in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


def _positive_or_none(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")


@dataclass(frozen=True)
class SearchOptions:
    """Greedy decoding or beam search of an encoder-decoder.

    beam_size: hypotheses kept per source; 1 is greedy decoding (the paper: 4).
    alpha: the length penalty lp(Y) = ((5 + |Y|) / 6) ** alpha (the paper: 0.6; 0 turns it off).
    max_len: the most tokens generated per source, EOS counted; None is each source's real length
        + 50 (section 6.1). Either is capped by the model's `max_len`.
    n_best: how many finished hypotheses beam search returns per source.
    min_len: the fewest tokens an output has (EOS not counted): EOS is impossible before that.
    no_repeat_ngram: n > 0 forbids any n-gram to occur twice in an output (0: off).
    use_cache: keep keys and values of past positions (False recomputes the whole prefix at every
        step: the reference the cache must reproduce).
    """

    beam_size: int = 1
    alpha: float = 0.6
    max_len: int | None = None
    n_best: int = 1
    min_len: int = 0
    no_repeat_ngram: int = 0
    use_cache: bool = True

    def __post_init__(self) -> None:
        _positive_or_none("beam_size", self.beam_size)
        for name in ("min_len", "no_repeat_ngram"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if self.max_len is not None and self.min_len >= self.max_len:
            raise ValueError(
                f"min_len={self.min_len} must be below max_len={self.max_len} (EOS counts)"
            )
        _positive_or_none("max_len", self.max_len)
        _positive_or_none("n_best", self.n_best)
        if self.beam_size is None or self.n_best is None:
            raise ValueError("beam_size and n_best must be positive integers, not None")
        if self.n_best > self.beam_size:
            raise ValueError(f"n_best must be <= beam_size={self.beam_size}, got {self.n_best!r}")
        if not self.alpha >= 0:  # also rejects NaN
            raise ValueError(f"alpha (length penalty) must be >= 0, got {self.alpha!r}")


@dataclass(frozen=True)
class SamplingOptions:
    """Continuing a prompt with a language model.

    max_new_tokens: how many tokens to add (fewer when every row has produced `eos_id`).
    temperature: divides the logits; 0 takes the argmax (greedy, no randomness).
    top_k: keep only the k most probable tokens. top_p: keep the smallest set of most probable
        tokens whose probabilities sum to >= p (nucleus sampling). Both None: no filtering.
    eos_id: a row that produced it is continued with padding and generation stops once all have.
    suppress_ids: never produced (their logits are set to -inf before each choice).
    first_token_ids: when given, the only tokens the first new one may be (token healing).
    use_cache: keep keys and values of past positions (False recomputes the whole window).
    """

    max_new_tokens: int = 100
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    eos_id: int | None = None
    suppress_ids: Sequence[int] = field(default=())
    first_token_ids: Sequence[int] | None = None
    use_cache: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an integer >= 0, got {self.max_new_tokens!r}")
        check_sampling(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
        object.__setattr__(self, "suppress_ids", tuple(self.suppress_ids))
        if self.first_token_ids is not None:
            object.__setattr__(self, "first_token_ids", tuple(self.first_token_ids))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def check_sampling(*, temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Refuse a temperature, top-k or top-p that sampling cannot use."""
    if not temperature >= 0:  # also rejects NaN
        raise ValueError(f"temperature must be >= 0 (0 means argmax), got {temperature!r}")
    _positive_or_none("top_k", top_k)
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1] or None, got {top_p!r}")


__all__ = ["SamplingOptions", "SearchOptions", "check_sampling"]
