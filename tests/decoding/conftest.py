"""Small random models and a wrapper that steers EOS, shared by the decoding tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aiayn import DecoderOnlyLM, EncoderDecoder, build_model, model_preset
from aiayn.nn.kv_cache import DecoderCache

PAD, BOS, EOS = 0, 1, 2
VOCAB = 10


def random_seq2seq(seed: int, *, max_len: int = 24, vocab_size: int = VOCAB) -> EncoderDecoder:
    """A random tiny encoder-decoder in eval mode. An untied output layer: with a tied one, a
    random model mostly repeats its input token, which makes decoding tests trivial."""
    torch.manual_seed(seed)
    config = model_preset("tiny", vocab_size=vocab_size, max_len=max_len, tie_output=False)
    return build_model(config).eval()


def random_lm(seed: int, *, max_len: int = 24, vocab_size: int = VOCAB) -> DecoderOnlyLM:
    torch.manual_seed(seed)
    config = model_preset("lm-tiny", vocab_size=vocab_size, max_len=max_len, tie_output=False)
    return build_model(config).eval()


def random_sources(seed: int, *, lengths: list[int], vocab_size: int = VOCAB) -> Tensor:
    """(B, max(lengths)) right-padded sources of real tokens 3 .. vocab_size - 1."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(3, vocab_size, (len(lengths), max(lengths)), generator=g)
    real = torch.arange(src.size(1))[None, :] < torch.tensor(lengths)[:, None]
    return src.masked_fill(~real, PAD)


# bias(tokens (B, T), positions (T,)) -> (B, T) added to the EOS logit
EosRule = Callable[[Tensor, Tensor], Tensor]


class EosSteered(nn.Module):
    """Wraps a model and adds `rule(input tokens, positions)` to the EOS logit, to make EOS
    certain or impossible at chosen places. Works for the encoder-decoder and the LM, cached or
    not, since the rule only looks at each position's input token and absolute position."""

    def __init__(self, model: nn.Module, rule: EosRule) -> None:
        super().__init__()
        self.model = model
        self.config = model.config
        self.rule = rule

    def _steer(self, logits: Tensor, tokens: Tensor, cache: DecoderCache | None) -> Tensor:
        start = 0 if cache is None else len(cache) - tokens.size(1)
        positions = torch.arange(start, start + tokens.size(1))
        logits = logits.clone()
        logits[..., EOS] += self.rule(tokens, positions)
        return logits

    def new_cache(self, capacity: int | None = None) -> DecoderCache:
        return self.model.new_cache(capacity)

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.encode(src)

    def decode(
        self, tgt: Tensor, memory: Tensor, src_mask: Tensor, *, cache: DecoderCache | None = None
    ) -> Tensor:
        logits = self.model.decode(tgt, memory, src_mask, cache=cache)
        return self._steer(logits, tgt, cache)

    def forward(self, tokens: Tensor, *, cache: DecoderCache | None = None) -> Tensor:
        return self._steer(self.model(tokens, cache=cache), tokens, cache)


@pytest.fixture
def no_eos() -> EosRule:
    """EOS is never the argmax nor sampled (a large negative, not -inf, keeps softmax finite)."""
    return lambda tokens, positions: torch.full(tokens.shape, -1e4)


@pytest.fixture
def eos_after_five() -> EosRule:
    """EOS follows every generated 5 and position 5 (so at most 6 tokens before it)."""
    return lambda tokens, positions: 100.0 * ((tokens == 5) | (positions[None, :] >= 6)).float()


@pytest.fixture
def make_seq2seq() -> Callable[..., EncoderDecoder]:
    return random_seq2seq


@pytest.fixture
def make_lm() -> Callable[..., DecoderOnlyLM]:
    return random_lm


@pytest.fixture
def make_sources() -> Callable[..., Tensor]:
    return random_sources


@pytest.fixture
def steer() -> type[EosSteered]:
    return EosSteered


@pytest.fixture(scope="session")
def copy_model() -> tuple[EncoderDecoder, Tensor]:
    """A one-layer encoder-decoder trained for 200 steps (a few seconds) to copy its source, and
    held-out (B, S) sources to decode."""
    g = torch.Generator().manual_seed(0)

    def batch(n: int) -> tuple[Tensor, Tensor]:
        lengths = torch.randint(2, 7, (n,), generator=g)
        src = torch.randint(3, 12, (n, 6), generator=g)
        src = src.masked_fill(torch.arange(6)[None, :] >= lengths[:, None], PAD)
        tgt = torch.full((n, 8), PAD)  # BOS, the copy, EOS, padding
        tgt[:, 0] = BOS
        tgt[:, 1:7] = src
        tgt[torch.arange(n), lengths + 1] = EOS
        return src, tgt

    torch.manual_seed(0)
    config = model_preset("tiny", vocab_size=12, max_len=16, n_layers=1, d_ff=128)
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(200):
        src, tgt = batch(64)
        logits = model(src, tgt[:, :-1])  # (B, 7, V)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), batch(32)[0]
