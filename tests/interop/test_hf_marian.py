"""Our encoder-decoder exported to Hugging Face's MarianMTModel (and back) gives the same logits
and the same greedy translations; the saved folder loads with from_pretrained, tokenizer
included; configurations Marian cannot express are refused by name."""

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
from aiayn.decoding import (  # noqa: E402
    SearchOptions,
    greedy_decode,
    greedy_decode_with_logits,
)
from aiayn.errors import AiaynError  # noqa: E402
from aiayn.interop.hf_marian import (  # noqa: E402
    from_marian,
    marian_config,
    marian_order,
    save_marian,
    to_marian,
)
from aiayn.models import EncoderDecoder  # noqa: E402
from aiayn.nn.positional_encoding import sinusoidal_positional_encoding  # noqa: E402
from aiayn.tokenizers import BOS_ID, EOS_ID, PAD_ID, BPETokenizer  # noqa: E402

V = 40
BASE = dict(vocab_size=V, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=24, p_drop=0.0)
CONFIGS = {
    "paper": {},
    "more-decoder-layers": dict(n_decoder_layers=3),
    "separate-vocabularies": dict(share_embeddings=False, tgt_vocab_size=33),
    "untied-output": dict(tie_output=False),
    "no-bias-gelu-tanh-unscaled": dict(bias=False, activation="gelu_tanh", scale_embeddings=False),
    "odd-d_model-gelu": dict(d_model=27, n_heads=3, activation="gelu"),
}


def random_model(seed: int = 0, **changes: object) -> EncoderDecoder:
    """A model with random values in every weight, LayerNorm gains and biases included (at their
    initial ones and zeros a wrongly mapped LayerNorm would go unnoticed)."""
    torch.manual_seed(seed)
    model = EncoderDecoder(ModelConfig(**{**BASE, **changes}))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                if module.bias is not None:
                    module.bias.normal_(std=0.1)
            elif isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.normal_(std=0.1)
    return model.eval()


def batch(model: EncoderDecoder, seed: int = 1) -> tuple[Tensor, Tensor]:
    """(B, S) right-padded sources ending in <eos>, (B, T) target inputs starting with <bos>."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, model.config.vocab_size, (3, 9), generator=g)
    for row, length in enumerate((9, 6, 3)):
        src[row, length - 1] = EOS_ID
        src[row, length:] = PAD_ID
    tgt = torch.randint(4, model.config.target_vocab_size, (3, 7), generator=g)
    tgt[:, 0] = BOS_ID
    return src, tgt


def hf_logits(hf: nn.Module, src: Tensor, tgt: Tensor) -> Tensor:
    with torch.no_grad():
        return hf(
            input_ids=src, attention_mask=(src != PAD_ID).long(), decoder_input_ids=tgt
        ).logits


def test_marian_table_is_ours_in_the_order_even_then_odd() -> None:
    hf = to_marian(random_model())
    ours = sinusoidal_positional_encoding(24, 32)
    for side in (hf.model.encoder, hf.model.decoder):
        table = side.embed_positions.weight.detach()
        assert_close(table, ours[:, marian_order(32)])
        assert not torch.allclose(table, ours)  # the layouts differ: a plain copy would be wrong


@pytest.mark.parametrize("name", CONFIGS)
def test_same_logits_with_source_padding(name: str) -> None:
    model = random_model(**CONFIGS[name])
    src, tgt = batch(model)
    hf = to_marian(model)
    assert not hf.training
    with torch.no_grad():
        expected = model(src, tgt)
    assert_close(hf_logits(hf, src, tgt), expected)
    # The padding is masked on both sides: without the mask Marian's logits change.
    with torch.no_grad():
        unmasked = hf(input_ids=src, decoder_input_ids=tgt).logits
    assert not torch.allclose(unmasked[1:], expected[1:], atol=1e-4)


def test_special_ids_and_no_forced_eos() -> None:
    c = marian_config(random_model().config, bos_id=BOS_ID, eos_id=EOS_ID, pad_id=PAD_ID)
    assert (c.decoder_start_token_id, c.eos_token_id, c.pad_token_id) == (BOS_ID, EOS_ID, PAD_ID)
    assert c.forced_eos_token_id is None
    assert c.scale_embedding and c.activation_function == "relu"
    started = marian_config(random_model().config, decoder_start_token_id=7)
    assert started.decoder_start_token_id == 7
    with pytest.raises(ValueError, match="pad_id"):
        marian_config(random_model().config, pad_id=1)


@pytest.mark.parametrize("name", ["paper", "separate-vocabularies", "no-bias-gelu-tanh-unscaled"])
def test_round_trip_gives_back_the_weights(name: str) -> None:
    model = random_model(**CONFIGS[name])
    back = from_marian(to_marian(model))
    ours = model.state_dict()
    for key, value in back.state_dict().items():
        # bias=False comes back as zero biases: the same function
        assert_close(value, ours.get(key, torch.zeros_like(value)), rtol=0, atol=0)


def test_from_marian_of_a_marian_built_from_its_own_config() -> None:
    torch.manual_seed(0)
    config = transformers.MarianConfig(
        vocab_size=V, d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=48, decoder_ffn_dim=48,
        activation_function="gelu_new", max_position_embeddings=24, pad_token_id=PAD_ID,
        eos_token_id=EOS_ID, decoder_start_token_id=BOS_ID, scale_embedding=True,
    )  # fmt: skip
    hf = transformers.MarianMTModel(config).eval()
    ours = from_marian(hf)
    assert ours.config.activation == "gelu_tanh" and ours.config.decoder_layers == 1
    src, tgt = batch(ours)
    with torch.no_grad():
        assert_close(ours(src, tgt), hf_logits(hf, src, tgt))


def test_saved_folder_reloads_with_the_same_logits(tmp_path: Path) -> None:
    model = random_model()
    save_marian(model, tmp_path)
    assert {"config.json", "model.safetensors", "generation_config.json"} <= {
        p.name for p in tmp_path.iterdir()
    }
    from safetensors.torch import load_file

    # Marian does not store its position tables; from_pretrained rebuilds them from the formula.
    assert not any("embed_positions" in key for key in load_file(tmp_path / "model.safetensors"))
    hf = transformers.MarianMTModel.from_pretrained(tmp_path).eval()
    src, tgt = batch(model)
    with torch.no_grad():
        expected = model(src, tgt)
    assert_close(hf_logits(hf, src, tgt), expected)
    gen = transformers.GenerationConfig.from_pretrained(tmp_path)
    assert (gen.decoder_start_token_id, gen.eos_token_id, gen.pad_token_id) == (2, 3, 0)
    assert gen.forced_eos_token_id is None and gen.max_length == 24


def test_greedy_generation_equals_greedy_decode() -> None:
    # An untied output layer: a random tied one predicts the input token again and again.
    model = random_model(seed=0, tie_output=False)
    src, _ = batch(model, seed=4)
    steps = 12
    first = greedy_decode_with_logits(
        model, src, bos_id=BOS_ID, eos_id=EOS_ID, options=SearchOptions(max_len=steps)
    )
    assert len(set(first.tokens[0].tolist())) > 2  # a sequence worth comparing
    # Make the third token of row 0 the end of sentence, so that stopping and padding a finished
    # row are compared too, not only the argmax of each step.
    eos = int(first.tokens[0, 2])
    ours = greedy_decode_with_logits(
        model, src, bos_id=BOS_ID, eos_id=eos, options=SearchOptions(max_len=steps)
    )
    assert ours.ended[0] and (ours.tokens[0, 3:] == PAD_ID).all()
    hf = to_marian(model, eos_id=eos)
    with torch.no_grad():
        out = hf.generate(
            max_new_tokens=steps,
            input_ids=src,
            attention_mask=(src != PAD_ID).long(),
            do_sample=False,
            num_beams=1,
        )  # (B, 1 + L): the decoder start, then the tokens
    assert (out[:, 0] == BOS_ID).all()
    assert torch.equal(out[:, 1:], ours.tokens)


def test_saved_folder_translates_text(tmp_path: Path) -> None:
    sentences = ["ein Hund läuft im Park .", "a dog runs in the park .", "zwei Männer lachen ."]
    tok = BPETokenizer.train(sentences * 3, vocab_size=V, min_frequency=1)
    tok.save(tmp_path / "tok")
    model = random_model(seed=5, vocab_size=tok.vocab_size)
    save_marian(model, tmp_path / "hf", tokenizer_json=tmp_path / "tok" / "tokenizer.json")
    hf_tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert isinstance(hf_tok, transformers.PreTrainedTokenizerFast)
    texts = ["ein Hund lacht .", "two men in the park"]
    assert hf_tok(texts[0])["input_ids"] == tok.encode(texts[0], add_eos=True)

    hf = transformers.MarianMTModel.from_pretrained(tmp_path / "hf").eval()
    inputs = hf_tok(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = hf.generate(max_new_tokens=8, **inputs, do_sample=False, num_beams=1)
    theirs = hf_tok.batch_decode(out, skip_special_tokens=True)
    src = inputs["input_ids"]
    ours = [
        tok.decode(ids)
        for ids in greedy_decode(model, src, bos_id=2, eos_id=3, options=SearchOptions(max_len=8))
    ]
    assert theirs == ours


@pytest.mark.parametrize(
    "field, value",
    [
        ("norm_first", True),
        ("positional", "learned"),
        ("layer_norm_eps", 1e-6),
        ("embedding_norm", True),
        ("type_vocab_size", 2),
        ("attention_score", "dot"),  # the ablations: no Hugging Face model has them
        ("share_layers", True),
        ("residual", False),
        ("causal", False),
    ],
)
def test_refuses_what_marian_cannot_express(field: str, value: object) -> None:
    config = ModelConfig(**{**BASE, field: value})
    with pytest.raises(AiaynError, match=f"^{field}="):
        marian_config(config)
    with pytest.raises(AiaynError, match=f"^{field}="):
        to_marian(EncoderDecoder(config))


def test_refuses_a_decoder_only_config() -> None:
    with pytest.raises(AiaynError, match="^arch="):
        marian_config(ModelConfig(**{**BASE, "arch": "decoder-only"}))


def test_from_marian_refuses_what_ours_cannot_express() -> None:
    hf = to_marian(random_model())
    with torch.no_grad():
        hf.final_logits_bias[0, 5] = 1.0
    with pytest.raises(AiaynError, match="final_logits_bias"):
        from_marian(hf)
    swish = transformers.MarianConfig(**{**to_marian(random_model()).config.to_dict()})
    swish.activation_function = "swish"
    with pytest.raises(AiaynError, match="activation_function='swish'"):
        from_marian(transformers.MarianMTModel(swish))


def test_exported_from_the_package() -> None:
    for name in ("from_marian", "marian_config", "save_marian", "to_marian"):
        assert getattr(aiayn.interop, name) is globals()[name]
