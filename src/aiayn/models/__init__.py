"""Whole networks: the encoder-decoder, the decoder-only LM and the encoder classifier."""

from __future__ import annotations

from torch import nn

from aiayn.config import ModelConfig
from aiayn.models.decoder_only import DecoderOnlyLM
from aiayn.models.encoder_classifier import EncoderClassifier
from aiayn.models.encoder_decoder import EncoderDecoder

Model = EncoderDecoder | DecoderOnlyLM | EncoderClassifier

_ARCH_TO_CLASS: dict[str, type[nn.Module]] = {
    "encoder-decoder": EncoderDecoder,
    "decoder-only": DecoderOnlyLM,
    "encoder-classifier": EncoderClassifier,
}


def build_model(config: ModelConfig) -> Model:
    """The model that `config.arch` names, freshly initialised."""
    return _ARCH_TO_CLASS[config.arch](config)


def count_parameters(model: nn.Module) -> int:
    """Number of distinct trainable parameters (a tied matrix counts once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "DecoderOnlyLM",
    "EncoderClassifier",
    "EncoderDecoder",
    "Model",
    "build_model",
    "count_parameters",
]
