"""rnn-vs-transformer: models of equal size, and the quick run (Multi30k only in the full run)."""

from __future__ import annotations

import pytest

from aiayn.app.ablate._common import toy_config
from aiayn.app.ablate.rnn import build
from aiayn.models import count_parameters


def test_the_lstm_is_sized_to_the_transformers_parameters() -> None:
    config = toy_config("encoder-decoder")
    transformer, _ = build("transformer", config)
    lstm, lstm_config = build("lstm", config)
    assert lstm_config.arch == "lstm-encoder-decoder" and lstm_config.d_model != config.d_model
    n_t, n_l = count_parameters(transformer), count_parameters(lstm)
    assert abs(n_l - n_t) / n_t < 0.05


@pytest.mark.slow
def test_quick_run(quick) -> None:
    record, _ = quick("rnn-vs-transformer")
    timing, copy, reverse = record["tables"].values()
    assert [r["sequence length"] for r in timing] == [4, 8]
    assert all(r["transformer ms/step"] > 0 and r["lstm ms/step"] > 0 for r in timing)
    assert set(copy[0]) == {"sequence length", "transformer", "lstm"}
    assert "multi30k" not in record["data"]
