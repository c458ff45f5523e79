"""ModelConfig and the presets: the paper's sizes (Table 3), validation with messages, dicts."""

from __future__ import annotations

import pytest
import torch

from aiayn.config import ARCHS, MODEL_PRESETS, ModelConfig, model_preset
from aiayn.models import build_model, count_parameters


@pytest.mark.parametrize(("preset", "millions"), [("paper-base", 65), ("paper-big", 213)])
def test_paper_parameter_counts_match_table_3(preset: str, millions: int) -> None:
    """Table 3: 65M (base) and 213M (big) parameters with a shared 37000-token vocabulary.
    Built on the meta device: shapes without memory or initialisation cost."""
    config = model_preset(preset)
    assert config.vocab_size == 37000 and config.share_embeddings and config.tie_output
    with torch.device("meta"):
        model = build_model(config)
    n = count_parameters(model)
    assert abs(n - millions * 1e6) / (millions * 1e6) < 0.05, n


def test_paper_base_hyper_parameters() -> None:
    c = model_preset("paper-base")
    assert (c.n_layers, c.d_model, c.d_ff, c.n_heads, c.d_k, c.p_drop) == (6, 512, 2048, 8, 64, 0.1)
    assert not c.norm_first and c.activation == "relu" and c.positional == "sinusoidal"
    big = model_preset("paper-big")
    assert (big.d_model, big.d_ff, big.n_heads, big.d_k, big.p_drop) == (1024, 4096, 16, 64, 0.3)


def test_the_ablation_options_default_to_the_paper() -> None:
    c = ModelConfig()
    assert c.attention_score == "scaled-dot" and c.residual and c.causal and not c.share_layers
    for positional in ("sinusoidal", "learned", "none"):
        assert ModelConfig(positional=positional).positional == positional


def test_every_preset_builds() -> None:
    for name, config in MODEL_PRESETS.items():
        with torch.device("meta"):
            assert count_parameters(build_model(config)) > 0, name


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"d_model": 30, "n_heads": 8}, "d_model=30.*n_heads=8"),
        ({"d_model": 0}, "d_model.*0"),
        ({"vocab_size": -5}, "vocab_size.*-5"),
        ({"n_heads": -1}, "n_heads.*-1"),
        ({"d_ff": 0}, "d_ff.*0"),
        ({"n_layers": 0}, "n_layers.*0"),
        ({"max_len": -1}, "max_len.*-1"),
        ({"d_model": 512.0}, "d_model.*512.0"),
        ({"n_decoder_layers": 0}, "n_decoder_layers.*0"),
        ({"tgt_vocab_size": -2}, "tgt_vocab_size.*-2"),
        ({"p_drop": 1.0}, "p_drop.*1.0"),
        ({"p_drop": -0.1}, "p_drop.*-0.1"),
        ({"p_drop_attn": 1.5}, "p_drop_attn.*1.5"),
        ({"p_drop_ff": -1.0}, "p_drop_ff.*-1.0"),
        ({"arch": "rnn"}, "arch.*'rnn'"),
        ({"activation": "swish"}, "activation.*'swish'"),
        ({"positional": "rotary"}, "positional.*'rotary'"),
        ({"pooling": "sum"}, "pooling.*'sum'"),
        ({"rnn_attention": "luong"}, "rnn_attention.*'luong'"),
        ({"layer_norm_eps": 0.0}, "layer_norm_eps.*0.0"),
        ({"attention_score": "cosine"}, "attention_score.*'cosine'"),
        ({"share_layers": 1}, "share_layers.*true or false.*1"),
        ({"residual": "no"}, "residual.*true or false.*'no'"),
        ({"causal": None}, "causal.*true or false.*None"),
        ({"type_vocab_size": -1}, "type_vocab_size.*-1"),
        ({"pad_id": 37000}, "pad_id.*37000"),
        ({"arch": "encoder-classifier", "n_classes": 1}, "n_classes.*1"),
        ({"tgt_vocab_size": 100}, "tgt_vocab_size=100.*vocab_size=37000"),
    ],
)
def test_bad_model_config_names_the_value(changes: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ModelConfig(**changes)


def test_separate_target_vocabulary_is_fine_without_sharing() -> None:
    c = ModelConfig(tgt_vocab_size=100, share_embeddings=False)
    assert c.target_vocab_size == 100 and ModelConfig().target_vocab_size == 37000


def test_every_arch_is_a_valid_config() -> None:
    assert {ModelConfig(arch=arch).arch for arch in ARCHS} == set(ARCHS)
    assert "lstm-encoder-decoder" in ARCHS


def test_decoder_layers_default_to_n_layers() -> None:
    assert ModelConfig(n_layers=4).decoder_layers == 4
    assert ModelConfig(n_layers=4, n_decoder_layers=2).decoder_layers == 2


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="'paper-huge'.*paper-base"):
        model_preset("paper-huge")


def test_preset_changes_are_validated() -> None:
    assert model_preset("tiny", n_layers=1).n_layers == 1
    with pytest.raises(ValueError, match="n_heads"):
        model_preset("tiny", n_heads=7)


def test_config_is_frozen_and_replace_validates() -> None:
    c = ModelConfig()
    with pytest.raises(AttributeError):
        c.d_model = 256  # type: ignore[misc]
    assert c.replace(d_model=256, n_heads=4).d_model == 256
    with pytest.raises(ValueError, match="d_model=100"):
        c.replace(d_model=100)


def test_dict_round_trip_and_unknown_keys() -> None:
    c = model_preset("lm-tiny")
    assert ModelConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="d_modle"):
        ModelConfig.from_dict({**c.to_dict(), "d_modle": 3})
