"""Weight initialisation shared by the three models."""

from __future__ import annotations

from torch import nn


def init_linear_weights(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for every linear layer (as fairseq and the Annotated
    Transformer do; the paper does not say). Embeddings keep their N(0, d_model^-0.5) init."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.xavier_uniform_(sub.weight)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
