"""no-positional-encoding and positions-extrapolate."""

from __future__ import annotations

import pytest
import torch

from aiayn.app.ablate._common import toy_config
from aiayn.app.ablate.positions import equivariance
from aiayn.models import build_model


@pytest.mark.parametrize("positional", ["none", "sinusoidal"])
def test_without_positions_the_encoder_is_permutation_equivariant(positional) -> None:
    torch.manual_seed(0)
    model = build_model(toy_config("encoder-decoder", positional=positional)).eval()
    e = equivariance(model, 8, torch.device("cpu"))
    if positional == "none":
        assert e["memory_gap"] < 1e-5 and e["logit_change"] < 1e-4
    else:
        assert e["memory_gap"] > 1e-2 and e["logit_change"] > 1e-3


@pytest.mark.slow
def test_quick_run_without_positions(quick) -> None:
    record, _ = quick("no-positional-encoding")
    (rows,) = record["tables"].values()
    assert [r["positions"] for r in rows] == ["sinusoidal", "none"]
    assert float(record["data"]["none"]["memory_gap"][0]) < 1e-5


@pytest.mark.slow
def test_quick_run_of_extrapolation(quick) -> None:
    record, _ = quick("positions-extrapolate")
    (rows,) = record["tables"].values()
    assert [r["seen in training"] for r in rows] == ["yes", "yes", "no"]
    assert set(record["data"]["token_accuracy"]) == {"sinusoidal", "learned"}
