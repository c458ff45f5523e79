"""Our decoder-only language model exported to Hugging Face's GPT2LMHeadModel gives the same
logits and the same greedy continuations; the saved folder loads with from_pretrained, tokenizer
included; configurations GPT-2 cannot express are refused by name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is built from configs
transformers = pytest.importorskip("transformers")

import aiayn.interop  # noqa: E402
from aiayn.config import ModelConfig  # noqa: E402
from aiayn.decoding import SamplingOptions, generate  # noqa: E402
from aiayn.errors import AiaynError  # noqa: E402
from aiayn.interop.hf_gpt2 import gpt2_config, save_gpt2, to_gpt2  # noqa: E402
from aiayn.models import DecoderOnlyLM  # noqa: E402
from aiayn.tokenizers import BPETokenizer  # noqa: E402

V = 40
BASE = dict(
    arch="decoder-only", vocab_size=V, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=24,
    p_drop=0.0, norm_first=True, positional="learned", activation="gelu_tanh",
    scale_embeddings=False,
)  # fmt: skip
CONFIGS = {
    "gpt2": {},
    "sinusoidal-positions": dict(positional="sinusoidal"),
    "untied-output": dict(tie_output=False),
    "no-bias-relu-eps": dict(bias=False, activation="relu", layer_norm_eps=1e-6),
    "gelu-3-layers": dict(activation="gelu", n_layers=3),
}


def random_model(seed: int = 0, **changes: object) -> DecoderOnlyLM:
    """Random values in every weight, LayerNorm gains and biases included."""
    torch.manual_seed(seed)
    model = DecoderOnlyLM(ModelConfig(**{**BASE, **changes}))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                if module.bias is not None:
                    module.bias.normal_(std=0.1)
            elif isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.normal_(std=0.1)
    return model.eval()


def tokens(seed: int = 1, shape: tuple[int, int] = (3, 10)) -> Tensor:
    """Random ids above the special tokens (so none is <pad>)."""
    return torch.randint(4, V, shape, generator=torch.Generator().manual_seed(seed))


def hf_logits(hf: nn.Module, ids: Tensor, mask: Tensor | None = None) -> Tensor:
    with torch.no_grad():
        return hf(input_ids=ids, attention_mask=mask).logits


@pytest.mark.parametrize("name", CONFIGS)
def test_same_logits(name: str) -> None:
    model = random_model(**CONFIGS[name])
    ids = tokens()
    hf = to_gpt2(model)
    assert not hf.training
    with torch.no_grad():
        expected = model(ids)
    assert_close(hf_logits(hf, ids), expected)


def test_tied_output_stays_tied() -> None:
    hf = to_gpt2(random_model())
    assert hf.lm_head.weight is hf.transformer.wte.weight
    untied = to_gpt2(random_model(tie_output=False))
    assert untied.lm_head.weight is not untied.transformer.wte.weight


def test_right_padding_does_not_change_real_positions() -> None:
    model = random_model()
    ids = tokens()
    mask = torch.ones_like(ids)
    ids[1, 6:], mask[1, 6:] = 0, 0  # row 1: six real tokens, then <pad>
    with torch.no_grad():
        expected = model(ids)
    theirs = hf_logits(to_gpt2(model), ids, mask)
    assert_close(theirs[0], expected[0])
    assert_close(theirs[1, :6], expected[1, :6])


def test_saved_folder_reloads_with_the_same_logits(tmp_path: Path) -> None:
    model = random_model(positional="sinusoidal")
    save_gpt2(model, tmp_path, eos_id=3)
    assert {"config.json", "model.safetensors", "generation_config.json"} <= {
        p.name for p in tmp_path.iterdir()
    }
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    # GPT-2's position matrix is a stored weight: the sinusoidal table travels in the file.
    assert_close(hf.transformer.wpe.weight.detach(), model.embed.position.pe)
    ids = tokens()
    with torch.no_grad():
        expected = model(ids)
    assert_close(hf_logits(hf, ids), expected)
    gen = transformers.GenerationConfig.from_pretrained(tmp_path)
    assert gen.eos_token_id == 3 and gen.pad_token_id == 0 and gen.max_length == 24


@pytest.mark.parametrize("with_eos", [False, True])
def test_greedy_generation_equals_generate_at_temperature_0(with_eos: bool) -> None:
    # An untied output layer: a random tied one predicts the input token again and again.
    model = random_model(seed=0, tie_output=False)
    prompt = tokens(seed=2, shape=(3, 4))
    steps = 12
    eos = None
    if with_eos:  # the third new token of row 0 ends it: stopping and padding are compared too
        eos = int(
            generate(model, prompt, SamplingOptions(max_new_tokens=steps, temperature=0))[0, 4 + 2]
        )
    ours = generate(model, prompt, SamplingOptions(max_new_tokens=steps, temperature=0, eos_id=eos))
    assert len(set(ours[0, 4:].tolist())) > 2  # a continuation worth comparing
    if with_eos:
        assert (ours[0, 4 + 3 :] == 0).all()
    hf = to_gpt2(model, eos_id=eos)
    with torch.no_grad():
        theirs = hf.generate(
            max_new_tokens=steps,
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            do_sample=False,
            num_beams=1,
        )
    assert torch.equal(theirs, ours)


def test_saved_folder_continues_text(tmp_path: Path) -> None:
    text = ["To be, or not to be, that is the question:", "Whether 'tis nobler in the mind"]
    tok = BPETokenizer.train(text * 3, vocab_size=V + 20, min_frequency=1)
    tok.save(tmp_path / "tok")
    model = random_model(seed=0, vocab_size=tok.vocab_size, tie_output=False)
    save_gpt2(model, tmp_path / "hf", tokenizer_json=tmp_path / "tok" / "tokenizer.json")
    hf_tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    prompt = "To be, or not"
    assert hf_tok(prompt)["input_ids"] == tok.encode(prompt)  # no special token added
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    inputs = hf_tok([prompt], return_tensors="pt")
    with torch.no_grad():
        out = hf.generate(max_new_tokens=6, **inputs, do_sample=False, num_beams=1)
    ours = generate(model, inputs["input_ids"], SamplingOptions(max_new_tokens=6, temperature=0))
    assert hf_tok.decode(out[0], skip_special_tokens=True) == tok.decode(ours[0])


@pytest.mark.parametrize(
    "field, value",
    [
        ("norm_first", False),
        ("scale_embeddings", True),
        ("embedding_norm", True),
        ("type_vocab_size", 2),
        ("p_drop_ff", 0.1),
        ("attention_score", "dot"),  # the ablations: no Hugging Face model has them
        ("share_layers", True),
        ("residual", False),
        ("causal", False),
    ],
)
def test_refuses_what_gpt2_cannot_express(field: str, value: object) -> None:
    config = ModelConfig(**{**BASE, field: value})
    with pytest.raises(AiaynError, match=f"^{field}="):
        gpt2_config(config)
    with pytest.raises(AiaynError, match=f"^{field}="):
        to_gpt2(DecoderOnlyLM(config))


def test_refuses_an_encoder_decoder_config() -> None:
    with pytest.raises(AiaynError, match="^arch="):
        gpt2_config(ModelConfig(**{**BASE, "arch": "encoder-decoder"}))


def test_exported_from_the_package() -> None:
    for name in ("gpt2_config", "save_gpt2", "to_gpt2"):
        assert getattr(aiayn.interop, name) is globals()[name]
