"""What translation and summarisation share (TextToTextTask): one BPE vocabulary saved in the run
and reloaded, not retrained; sources ending with <eos>; pairs fitted to the model; the two speeds
of evaluation; and the attention map of one decoded sentence. On a small task defined here, with
an untrained model: nothing below depends on what a model has learned."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

from aiayn.config import ModelConfig, TrainConfig
from aiayn.decoding import greedy_decode
from aiayn.errors import AiaynError
from aiayn.tasks.batches import ParallelBatches
from aiayn.tasks.seq2seq import TextToTextTask
from aiayn.tokenizers import BOS_ID, EOS_ID, PAD_ID, WordTokenizer

WORDS = ["the", "cat", "dog", "sat", "ran", "on", "a", "mat", "log", "big", "small", "red", "blue"]


def _sentences(n: int, seed: int) -> list[str]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, 7, (n,), generator=g).tolist()
    return [
        " ".join(WORDS[i] for i in torch.randint(0, len(WORDS), (k,), generator=g)) for k in lengths
    ]


DATA = {"train": _sentences(60, 0), "val": _sentences(6, 1)}


class Echo(TextToTextTask):
    """Output the input; scored by exact match."""

    name: ClassVar[str] = "echo"
    metric: ClassVar[str] = "exact"
    eval_option: ClassVar[str] = "eval_examples"
    options: ClassVar[dict[str, Any]] = {
        **TextToTextTask.options,
        "bpe_vocab_size": 60,
        "min_frequency": 1,
        "max_positions": 24,
        "beam": 2,
        "reference_sentences": 4,
        "eval_examples": 3,
    }

    def examples(self, split: str) -> tuple[list[str], list[list[str]]]:
        self._check_split(split)
        return DATA[split], [[s] for s in DATA[split]]

    def has_split(self, split: str) -> bool:
        return split in DATA

    def score(self, hypotheses: list[str], references: list[list[str]]) -> dict[str, Any]:
        same = [h == refs[0] for h, refs in zip(hypotheses, references, strict=True)]
        return {"exact": sum(same) / len(same), "n": len(same)}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Echo, Path, dict]:
    run_dir = tmp_path_factory.mktemp("echo")
    task = Echo()
    return task, run_dir, task.prepare(run_dir, TrainConfig())


@pytest.fixture(scope="module")
def model(prepared):
    task, _, fields = prepared
    torch.manual_seed(0)
    config = ModelConfig(d_model=16, n_heads=2, d_ff=32, n_layers=1, p_drop=0.0, **fields)
    return task.build_model(config).eval()


def test_prepare_learns_one_vocabulary_and_saves_it(prepared):
    task, run_dir, fields = prepared
    assert fields == {"vocab_size": task.tokenizer.vocab_size, "pad_id": PAD_ID, "max_len": 24}
    assert (run_dir / "tokenizer" / "aiayn_tokenizer.json").is_file()
    assert task.tokenizer.vocab_size <= 60


def test_a_run_directory_with_a_tokenizer_is_loaded_not_retrained(prepared, tmp_path):
    task, run_dir, _ = prepared
    saved = (run_dir / "tokenizer" / "tokenizer.json").read_bytes()
    again = Echo({"bpe_vocab_size": 30})  # a retrained vocabulary would differ
    again.prepare(run_dir, TrainConfig())
    assert again.tokenizer.vocab_size == task.tokenizer.vocab_size
    assert (run_dir / "tokenizer" / "tokenizer.json").read_bytes() == saved
    loaded = Echo()
    loaded.load(run_dir)
    assert loaded.encode_source("the big cat") == task.encode_source("the big cat")


def test_load_needs_a_bpe_tokenizer(tmp_path):
    with pytest.raises(AiaynError, match="has no tokenizer .*was it trained"):
        Echo().load(tmp_path)
    WordTokenizer.train(DATA["train"]).save(tmp_path / "tokenizer")
    with pytest.raises(AiaynError, match="echo run needs a BPE tokenizer, found 'word'"):
        Echo().load(tmp_path)


def test_nothing_encodes_before_prepare_or_load():
    with pytest.raises(AiaynError, match=r"no tokenizer yet: call prepare\(\) or load\(\) first"):
        Echo().encode_source("the cat")


def test_sources_end_with_eos_and_an_empty_one_is_empty(prepared):
    task, _, _ = prepared
    ids = task.encode_source("the cat sat")
    assert ids[-1] == EOS_ID and task.decode_target(ids[:-1]) == "the cat sat"
    assert task.encode_source("") == []


def test_a_source_longer_than_the_model_is_cut_to_it_keeping_its_eos(prepared, caplog):
    task, _, _ = prepared
    text = " ".join(["the big cat"] * 20_000)  # 100,000 characters, far over max_positions=24
    with caplog.at_level("WARNING", logger="aiayn.tasks.capabilities"):
        ids = task.encode_source(text)
    assert len(ids) == 24 and ids[-1] == EOS_ID
    assert task.decode_target(ids[:-1]).startswith("the big cat the big cat")
    assert "longer than the model's maximum 24" in caplog.text
    short = task.encode_source("the cat")
    assert len(short) < 24 and short[-1] == EOS_ID


def test_splits_are_checked(prepared):
    task, _, _ = prepared
    allowed = "unknown split 'dev' for task 'echo': choose one of train, val, test$"
    with pytest.raises(AiaynError, match=allowed):
        task.pairs("dev")
    with pytest.raises(AiaynError, match="task 'echo' has no test split here"):
        task.pairs("test")


def test_training_pairs_longer_than_the_model_are_dropped():
    task = Echo()
    long, short = ([5] * 30, [6] * 3), ([5] * 3, [6] * 3)
    assert task.fit_pairs([long, short], "train") == [short]
    assert task.fit_pairs([long, short], "val") == [long, short]  # held-out pairs are kept


def test_pairs_hold_the_source_and_the_first_reference(prepared):
    task, _, _ = prepared
    pairs = task.pairs("val")
    assert len(pairs) == len(DATA["val"])
    assert task.decode_target(pairs[0][0]) == DATA["val"][0] == task.decode_target(pairs[0][1])


def test_train_source_cuts_by_tokens_or_by_sentences(prepared):
    task, _, _ = prepared
    by_tokens = task.train_source(TrainConfig(batch_tokens=64))
    by_count = task.train_source(TrainConfig(batch_size=5))
    assert isinstance(by_tokens, ParallelBatches) and by_tokens.max_tokens == 64
    assert by_count.max_sentences == 5
    assert all(len(b) <= 5 for b in by_count.batch_indices(0))


def test_evaluation_while_training_is_cheap(model, tmp_path):
    task = Echo()
    task.prepare(tmp_path, TrainConfig())  # a training run
    before = task.evaluate(model, "val")
    assert set(before) == {"val_loss", "val_token_accuracy", "wall_seconds"}  # no decoding yet
    task.train_source(TrainConfig())
    during = task.evaluate(model, "val")
    assert set(during) == {
        "val_loss",
        "val_token_accuracy",
        "val_exact_greedy_first3",
        "wall_seconds",
    }
    assert during["val_loss"] == before["val_loss"]


def test_evaluation_of_a_trained_run_decodes_the_whole_split_with_the_beam(prepared, model):
    _, run_dir, _ = prepared
    task = Echo()
    task.load(run_dir)
    out = task.evaluate(model, "val")
    assert out["val_n"] == len(DATA["val"]) and 0.0 <= out["val_exact"] <= 1.0
    assert (out["val_beam"], out["val_alpha"]) == (2, 0.6) and "wall_seconds" not in out
    summary = task.summarize(model, {"loss": 9.0})
    assert summary["val_greedy"]["n"] == summary["val_beam"]["n"] == len(DATA["val"])
    assert summary["train_pairs"] == 60 and "test_loss" not in summary


def test_reference_outputs_are_greedy_decodes_of_the_first_sources(prepared, model):
    task, _, _ = prepared
    outputs = task.reference_outputs(model)
    sources = [[*s, EOS_ID] for s, _ in task.pairs("val")[:4]]
    src = torch.full((4, max(map(len, sources))), PAD_ID)
    for i, s in enumerate(sources):
        src[i, : len(s)] = torch.tensor(s)
    assert outputs == greedy_decode(model, src, bos_id=BOS_ID, eos_id=EOS_ID)
    assert len(outputs) == 4


def test_the_attention_of_a_decoded_sentence(prepared, model):
    task, _, _ = prepared
    text, maps = task.attention(model, "the big red cat")
    cross = maps["cross"]
    assert cross.key_tokens[-1] == "<eos>" and cross.query_tokens[-1] == "<eos>"
    T, S = len(cross.query_tokens), len(cross.key_tokens)
    assert cross.weights.shape == (model.config.n_layers, 2, T, S)  # (L, H, T, S)
    torch.testing.assert_close(cross.weights.sum(-1), torch.ones(model.config.n_layers, 2, T))
    assert isinstance(text, str)
    with pytest.raises(AiaynError, match="the source is empty"):
        task.attention(model, "")
