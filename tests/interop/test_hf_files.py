"""What the Hugging Face exports share: importing `transformers` offline (or one line naming the
extra), and an aiayn BPE tokenizer written as a folder `PreTrainedTokenizerFast` reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from aiayn.errors import AiaynError
from aiayn.interop._hf_files import require_transformers, save_tokenizer
from aiayn.tokenizers import EOS_ID, PAD_ID, BPETokenizer

transformers = pytest.importorskip("transformers")

TEXTS = ["a dog runs in the park .", "two cats sit on a wall .", "the dog and the cat ."] * 5


@pytest.fixture(scope="module")
def tokenizer_json(tmp_path_factory) -> tuple[BPETokenizer, Path]:
    bpe = BPETokenizer.train(TEXTS, vocab_size=60, length=len(TEXTS))
    directory = tmp_path_factory.mktemp("bpe")
    bpe.save(directory)
    return bpe, directory / "tokenizer.json"


def test_require_transformers_names_the_purpose_and_the_extra(monkeypatch):
    assert require_transformers() is sys.modules["transformers"]
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(AiaynError) as error:
        require_transformers()
    assert str(error.value) == (
        'exporting to Hugging Face needs the transformers package: pip install "aiayn[hf]"'
    )
    with pytest.raises(AiaynError, match=r'^--backend hf needs .*"aiayn\[pretrained\]"$'):
        require_transformers("--backend hf", extra="pretrained")


@pytest.mark.parametrize("append_eos", [False, True])
def test_the_saved_folder_encodes_as_ours_with_or_without_eos(tokenizer_json, tmp_path, append_eos):
    bpe, path = tokenizer_json
    save_tokenizer(path, tmp_path, model_max_length=48, append_eos=append_eos)
    fast = transformers.PreTrainedTokenizerFast.from_pretrained(str(tmp_path))
    text = "a dog and two cats ."
    ours = bpe.encode(text)
    assert fast(text)["input_ids"] == ([*ours, EOS_ID] if append_eos else ours)
    assert (fast.pad_token_id, fast.eos_token_id) == (PAD_ID, EOS_ID)
    assert (fast.unk_token, fast.bos_token) == ("<unk>", "<bos>")
    assert fast.model_max_length == 48
    assert fast.decode(ours) == bpe.decode(ours)


def test_an_unreadable_tokenizer_file_is_one_error(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(AiaynError, match=f"cannot read tokenizer {bad}"):
        save_tokenizer(bad, tmp_path / "out", model_max_length=8, append_eos=False)


def test_a_tokenizer_without_our_special_tokens_is_refused(tokenizer_json, tmp_path):
    _, path = tokenizer_json
    data = json.loads(path.read_text(encoding="utf-8"))
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] != "<bos>"]
    data["model"]["vocab"].pop("<bos>")
    other = tmp_path / "tokenizer.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(AiaynError, match="has no '<bos>' token"):
        save_tokenizer(other, tmp_path / "out", model_max_length=8, append_eos=False)
