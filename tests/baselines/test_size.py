"""Parameter counts of the baseline against the closed form, and fitting d_model to a budget."""

from __future__ import annotations

import pytest

from aiayn.baselines import baseline_parameter_count, build_baseline, fit_d_model
from aiayn.config import ModelConfig


def _config(**changes: object) -> ModelConfig:
    base = ModelConfig(
        arch="lstm-encoder-decoder", vocab_size=50, d_model=12, n_heads=2, n_layers=3
    )
    return base.replace(**changes)


def _closed_form(V: int, D: int, L: int, score: str) -> int:
    """The table in aiayn.baselines.size, for a shared and tied vocabulary."""
    attention = {"dot": 0, "general": D * D, "additive": 2 * D * D + 2 * D}[score]
    encoder = L * (6 * D * D + 8 * D)
    bridge = 2 * L * D * D + 2 * L * D
    decoder = 12 * D * D + 8 * D + (L - 1) * (8 * D * D + 8 * D)
    return V * D + encoder + bridge + decoder + attention + 2 * D * D + D


@pytest.mark.parametrize("score", ["dot", "general", "additive"])
@pytest.mark.parametrize("L", [1, 3])
def test_the_count_matches_the_closed_form_and_the_built_model(score: str, L: int) -> None:
    config = _config(rnn_attention=score, n_layers=L)
    count = baseline_parameter_count(config)
    assert count == _closed_form(50, 12, L, score)
    assert count == sum(p.numel() for p in build_baseline(config).parameters())


def test_an_untied_output_adds_its_matrix() -> None:
    tied = baseline_parameter_count(_config())
    untied = baseline_parameter_count(_config(tie_output=False))
    separate = baseline_parameter_count(_config(tie_output=False, share_embeddings=False))
    assert untied - tied == 50 * 12 and separate - untied == 50 * 12


@pytest.mark.parametrize("target", [1, 40_000, 1_234_567, 44_000_000])
def test_fit_d_model_picks_the_closest_valid_size(target: int) -> None:
    config = _config(d_model=16, n_heads=8)
    fitted = fit_d_model(config, target)
    D = fitted.d_model
    assert D % 8 == 0 and fitted.replace(d_model=config.d_model) == config
    count = baseline_parameter_count(fitted)
    for other in (D - 8, D + 8):
        if other > 0:
            assert abs(baseline_parameter_count(config.replace(d_model=other)) - target) >= abs(
                count - target
            )


def test_fit_d_model_steps_by_the_multiple_asked_for() -> None:
    assert fit_d_model(_config(), 1_000_000, multiple_of=64).d_model % 64 == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_parameters": 0}, "n_parameters.*0"),
        ({"n_parameters": 1000, "multiple_of": 3}, "multiple_of.*2.*3"),
    ],
)
def test_fit_d_model_refuses_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_d_model(_config(), **kwargs)
