"""aiayn: the Transformer of "Attention Is All You Need", from scratch in PyTorch."""

from aiayn.config import MODEL_PRESETS, ModelConfig, TrainConfig, model_preset
from aiayn.models import DecoderOnlyLM, EncoderClassifier, EncoderDecoder, build_model

__version__ = "0.1.0"

__all__ = [
    "MODEL_PRESETS",
    "DecoderOnlyLM",
    "EncoderClassifier",
    "EncoderDecoder",
    "ModelConfig",
    "TrainConfig",
    "build_model",
    "model_preset",
]
