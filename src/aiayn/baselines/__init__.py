"""Models to compare the Transformer with: an LSTM encoder-decoder with attention (Luong et al.
2015; Bahdanau et al. 2015), with the encoder-decoder's interface so that the same tasks, trainer,
loss and decoders run it."""

from __future__ import annotations

from torch import nn

from aiayn.baselines.attention import GlobalAttention
from aiayn.baselines.cache import RecurrentDecoderCache
from aiayn.baselines.rnn import (
    AttentionalLSTMDecoder,
    BidirectionalLSTMEncoder,
    LSTMEncoderDecoder,
)
from aiayn.baselines.size import baseline_parameter_count, fit_d_model
from aiayn.config import ModelConfig

_ARCH_TO_CLASS: dict[str, type[nn.Module]] = {"lstm-encoder-decoder": LSTMEncoderDecoder}
BASELINE_ARCHS: tuple[str, ...] = tuple(_ARCH_TO_CLASS)
# Each baseline arch -> the arch of ours whose interface it has (and whose tasks it can train on).
BASELINE_INTERFACES: dict[str, str] = {"lstm-encoder-decoder": "encoder-decoder"}


def build_baseline(config: ModelConfig) -> LSTMEncoderDecoder:
    """The baseline that `config.arch` names, freshly initialised."""
    if config.arch not in _ARCH_TO_CLASS:
        raise ValueError(
            f"arch must be one of {BASELINE_ARCHS} for a baseline, got {config.arch!r}"
        )
    return _ARCH_TO_CLASS[config.arch](config)


__all__ = [
    "BASELINE_ARCHS",
    "BASELINE_INTERFACES",
    "AttentionalLSTMDecoder",
    "BidirectionalLSTMEncoder",
    "GlobalAttention",
    "LSTMEncoderDecoder",
    "RecurrentDecoderCache",
    "baseline_parameter_count",
    "build_baseline",
    "fit_d_model",
]
