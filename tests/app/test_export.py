"""A run exported as a Hugging Face folder decodes as the run does; other runs are refused."""

from __future__ import annotations

import pytest
import torch

from aiayn.app.export import export_run
from aiayn.app.use import open_run, translate_lines
from aiayn.decoding import SearchOptions
from aiayn.errors import AiaynError

transformers = pytest.importorskip("transformers", reason="the hf extra is not installed")

SENTENCES = ["der hund läuft", "der katze schläft hund", "der hund schläft hund hund"]


@pytest.mark.slow
def test_a_translation_run_as_marian_translates_as_the_run_does(text_runs, tmp_path):
    run = open_run(text_runs / "translation", device="cpu")
    out = export_run(run, "hf-marian", tmp_path / "marian")
    hf = transformers.MarianMTModel.from_pretrained(str(out)).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    ours = translate_lines(run, SENTENCES, SearchOptions(max_len=20))  # 20 tokens, EOS counted
    for sentence, expected in zip(SENTENCES, ours, strict=True):
        ids = tok(sentence, return_tensors="pt").input_ids
        assert ids[0].tolist() == run.task.encode_source(sentence)
        with torch.no_grad():
            generated = hf.generate(ids, num_beams=1, do_sample=False, max_new_tokens=20)
        assert tok.decode(generated[0], skip_special_tokens=True) == expected


@pytest.mark.slow
def test_a_language_model_run_as_gpt2_gives_the_same_logits(text_runs, tmp_path):
    run = open_run(text_runs / "char-lm", device="cpu")
    out = export_run(run, "hf-gpt2", tmp_path / "gpt2")
    hf = transformers.GPT2LMHeadModel.from_pretrained(str(out)).eval()
    ids = torch.tensor([run.task.encode_prompt("the dog runs")])
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, run.model(ids), atol=1e-4, rtol=1e-4)


def test_other_kinds_and_used_folders_are_refused(toy_runs, tmp_path):
    lm = open_run(toy_runs / "reverse-lm", device="cpu")
    with pytest.raises(AiaynError, match="'reverse-lm' run .*--to hf-marian needs an encoder"):
        export_run(lm, "hf-marian", tmp_path / "m")
    reverse = open_run(toy_runs / "reverse", device="cpu")
    with pytest.raises(AiaynError, match="--to hf-gpt2 needs a decoder-only"):
        export_run(reverse, "hf-gpt2", tmp_path / "g")
    with pytest.raises(AiaynError, match="cannot be exported to GPT-2"):  # post-norm, scaled
        export_run(lm, "hf-gpt2", tmp_path / "g2")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(AiaynError, match="exists and is not empty"):
        export_run(reverse, "hf-marian", tmp_path / "full")
    with pytest.raises(AiaynError, match="--to must be one of hf-marian, hf-gpt2"):
        export_run(reverse, "onnx", tmp_path / "o")
