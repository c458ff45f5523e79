"""Summarisation: documents and summaries from the user's files (one or several references),
sources cut by the fixed rule and counted, the search options of the task, ROUGE with extractive
floors beside it, and a short training run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aiayn.app.train import TrainRequest, train
from aiayn.config import TrainConfig
from aiayn.decoding import SearchOptions
from aiayn.errors import AiaynError
from aiayn.evaluation.rouge import rouge_scores
from aiayn.tasks import get_task
from aiayn.tokenizers import EOS_ID

TOPICS = ["the team won the match", "the soup was hot", "the band played a song"]


def _records(n: int, seed: int) -> list[dict[str, str]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        topic = TOPICS[i % 3]
        extra = " And it rained." * int(torch.randint(0, 3, (1,), generator=g))
        document = f"{topic.capitalize()}. People were happy.{extra} Then they went home."
        out.append({"document": document, "summary": topic, "summary2": f"{topic} today"})
    return out


def _jsonl(path: Path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("summaries")
    return {
        "train_file": _jsonl(root / "train.jsonl", _records(60, 0)),
        "val_file": _jsonl(root / "val.jsonl", _records(6, 1)),
    }


SMALL = {"bpe_vocab_size": 80, "min_frequency": 1, "max_positions": 48, "max_source_tokens": 12,
         "max_target_tokens": 8, "max_len": 10}  # fmt: skip


def test_one_or_several_references(files):
    one = get_task("summarization", {**files, **SMALL})
    sources, references = one.examples("val")
    assert len(sources) == 6 and references[0] == [TOPICS[0]]
    several = get_task("summarization", {**files, **SMALL, "target_field": "summary, summary2"})
    assert several.target_fields() == ["summary", "summary2"]
    assert several.examples("val")[1][0] == [TOPICS[0], f"{TOPICS[0]} today"]


def test_splits_and_missing_files(files):
    task = get_task("summarization", {**files, **SMALL})
    assert task.has_split("train") and task.has_split("val") and not task.has_split("test")
    with pytest.raises(AiaynError, match="has no test split"):
        task.examples("test")
    with pytest.raises(
        AiaynError, match=r"needs the option train_file \(--set task\.train_file=F\)"
    ):
        get_task("summarization").load_examples("train")
    assert get_task("summarization", {**files, "test_file": files["val_file"]}).has_split("test")


def test_a_file_without_usable_records_is_refused(tmp_path):
    path = _jsonl(tmp_path / "empty.jsonl", [{"document": "a text", "summary": ""}])
    task = get_task("summarization", {"train_file": path})
    with pytest.raises(AiaynError):
        task.load_examples("train")


def test_sources_are_cut_and_counted_long_training_summaries_dropped():
    task = get_task("summarization", SMALL)
    long_source, short = ([5] * 20, [6] * 3), ([5] * 4, [6] * 3)
    long_target = ([5] * 4, [6] * 9)
    kept = task.fit_pairs([long_source, short, long_target], "train")
    assert kept == [([5] * 11, [6] * 3), short]  # 11 subwords + <eos> = max_source_tokens
    assert task.truncated["train"] == 1
    held_out = task.fit_pairs([long_source, ([5] * 3, [6] * 60)], "val")
    assert held_out == [([5] * 11, [6] * 3), ([5] * 3, [6] * 47)]  # fits max_positions


def test_encode_source_follows_the_same_rule(files, tmp_path):
    task = get_task("summarization", {**files, **SMALL})
    task.prepare(tmp_path, TrainConfig())
    ids = task.encode_source(" ".join(["the team won the match ."] * 5))
    assert len(ids) == 12 and ids[-1] == EOS_ID
    assert task.encode_source("") == []


def test_the_search_options_come_from_the_task_options():
    task = get_task("summarization", {"beam": 3, "alpha": 0.9, "min_len": 2, "max_len": 40})
    assert task.search_options() == SearchOptions(
        beam_size=3, alpha=0.9, min_len=2, max_len=40, no_repeat_ngram=3
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_len": 1}, "max_len must be an integer >= 2, got 1"),
        ({"max_source_tokens": True}, "task option max_source_tokens must be an integer, got True"),
        ({"max_source_tokens": 600}, "max_source_tokens=600 exceeds max_positions=512"),
        ({"max_len": 513}, "max_len=513 exceeds max_positions=512"),
        ({"max_target_tokens": 512}, "max_target_tokens must be below max_positions"),
        ({"multi_ref": "min"}, "multi_ref must be 'mean' or 'max', got 'min'"),
        ({"min_len": 100, "max_len": 50}, "min_len=100 must be below max_len=50"),
    ],
)
def test_bad_options_are_refused_when_the_task_is_made(options, message):
    with pytest.raises((AiaynError, ValueError), match=message):
        get_task("summarization", options)


def test_scores_are_rouge_with_the_chosen_multi_reference_rule():
    hyps, refs = ["the team won"], [["the team won the match", "a team lost"]]
    for rule in ("mean", "max"):
        task = get_task("summarization", {"multi_ref": rule})
        assert task.score(hyps, refs) == rouge_scores(hyps, refs, multi_ref=rule).to_dict()
    mean = get_task("summarization").score(hyps, refs)
    best = get_task("summarization", {"multi_ref": "max"}).score(hyps, refs)
    assert best["rouge_1"] > mean["rouge_1"]


def test_the_extractive_floors(files):
    task = get_task("summarization", {**files, **SMALL})
    floors = task.baselines("val")
    assert list(floors) == ["lead-3"] and len(floors["lead-3"]) == 6
    assert floors["lead-3"][0].splitlines()[0] == "The team won the match."
    assert len(floors["lead-3"][0].splitlines()) == 3
    dialogue = "#Person1#: Hi.\n#Person2#: Hello there, how are you today?\n#Person1#: Fine."
    dialogsum = get_task("dialogsum")
    dialogsum._examples["val"] = ([dialogue], [["They greet."]])
    turns = dialogsum.baselines("val")
    assert set(turns) == {"lead-2 turns", "lead-3 turns", "longest turn"}
    assert turns["longest turn"] == ["#Person2#: Hello there, how are you today?"]
    assert turns["lead-2 turns"][0].count("\n") == 1


def test_the_named_data_sets_read_user_files_when_given(files):
    for name in ("dialogsum", "cnn-dailymail"):
        task = get_task(name, {**files, **SMALL})
        assert task.examples("val")[1][0] == [TOPICS[0]]


# ------------------------------------------------------------------------ a short training run
@pytest.fixture(scope="module")
def trained(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "summaries"
    sets = [f"task.{k}={v}" for k, v in {**files, **SMALL}.items()] + [
        "beam=2", "eval_rouge_examples=2", "reference_sentences=2", "max_steps=4",
        "batch_tokens=256", "warmup_steps=1", "eval_every=4", "log_every=2", "d_model=16",
        "n_heads=2", "d_ff=32", "n_layers=1", "tensorboard=false", "plots=false",
    ]  # fmt: skip
    return train(
        TrainRequest(task="summarization", out=out, device="cpu", preset="tiny", sets=sets)
    )


def test_a_short_run_reports_rouge_beside_its_floors(trained):
    s = trained.summary
    assert s["steps"] == 4 and s["reloaded_model_generates_the_same"] is True
    for key in ("rouge_1", "rouge_2", "rouge_l", "rouge_lsum"):
        assert 0.0 <= s["val_beam"][key] <= 100.0 and 0.0 <= s["val_greedy"][key] <= 100.0
    assert set(s["val_baselines"]) == {"lead-3"}
    assert s["val_truncated_sources"] == sum(
        len(trained.task.tokenizer.encode(d)) > 11 for d in trained.task.examples("val")[0]
    )
    assert s["search"]["no_repeat_ngram"] == 3 and s["search"]["max_len"] == 10
    assert "test_beam" not in s
    assert trained.proofs[0].startswith("1. held-out loss")
    assert trained.proofs[1].startswith("2. val ROUGE-1/2/L") and "lead-3" in trained.proofs[1]
