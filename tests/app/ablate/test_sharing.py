"""shared-layers: similarity of layers and heads, and the quick run."""

from __future__ import annotations

import pytest
import torch

from aiayn.app.ablate._common import seq2seq_batch, toy_config
from aiayn.app.ablate.sharing import similarities
from aiayn.models import build_model


def test_shared_layers_have_identical_forms_and_separate_ones_do_not() -> None:
    src = seq2seq_batch("copy", torch.Generator().manual_seed(0), B=16, lengths=(6, 6))["src"]
    torch.manual_seed(0)
    shared = similarities(
        build_model(toy_config("encoder-decoder", n_layers=3, share_layers=True)), src
    )
    separate = similarities(build_model(toy_config("encoder-decoder", n_layers=3)), src)
    assert torch.allclose(
        torch.tensor(shared["layer_qk_cosine"], dtype=torch.float64),
        torch.ones(3, 3, dtype=torch.float64),
    )
    assert abs(separate["layer_qk_cosine"][0][1]) < 0.2
    assert len(separate["cka"]) == 4 and len(separate["head_map_similarity"]) == 3


@pytest.mark.slow
def test_quick_run(quick) -> None:
    record, _ = quick("shared-layers")
    training, similarity = record["tables"].values()
    separate, shared, one = (r["parameters"] for r in training)
    assert shared == one < separate
    assert len(similarity) == 2
