"""A Hugging Face sequence classifier behind our classifier's interface.

`HFClassifier` wraps `transformers`' model so that our trainer, checkpoints and CLI drive it
unchanged (the `--backend hf` of the SST-2 task). `transformers` is optional: it is imported on
first use, offline (the model comes from a local folder), with a one-line error naming the extra
to install when it is missing.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from aiayn.config import ModelConfig
from aiayn.interop._hf_files import require_transformers

EXTRA_HINT = 'pip install "aiayn[pretrained]"'


def transformers_module() -> Any:
    """The `transformers` module for `--backend hf`, or a one-line error naming the extra."""
    return require_transformers("--backend hf", extra="pretrained")


class HFClassifier(nn.Module):
    """A Hugging Face sequence classifier behind our classifier's interface: (B, T) ids -> (B, C)
    logits, and `config` (our ModelConfig, for max_len and pad_id)."""

    def __init__(self, hf_model: nn.Module, config: ModelConfig) -> None:
        super().__init__()
        self.hf = hf_model
        self.config = config

    def forward(
        self, tokens: Tensor, *, token_types: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        if mask is None:
            mask = tokens != self.config.pad_id
        out = self.hf(input_ids=tokens, attention_mask=mask.long(), token_type_ids=token_types)
        return out.logits  # (B, C)


__all__ = ["EXTRA_HINT", "HFClassifier", "transformers_module"]
