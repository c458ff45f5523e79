"""Using a trained run: each command asks the run's task for the capability it needs (a one-line
refusal naming the task otherwise), then translates, classifies, generates, evaluates or
averages. On the small runs trained once for the session (tests/conftest.py)."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import torch

from aiayn.app.runs import load_run
from aiayn.app.use import (
    average_run,
    capability,
    classify_lines,
    document_of,
    evaluate_run,
    generate_text,
    open_run,
    stream_text,
    summarize_lines,
    translate_lines,
)
from aiayn.decoding import SamplingOptions, SearchOptions, greedy_decode
from aiayn.errors import AiaynError
from aiayn.tasks import Classifies, Generates, Summarizes, Translates
from aiayn.tasks.toy import BOS, EOS, pad
from aiayn.training.checkpoint import load_weights

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def reverse(toy_runs):
    return open_run(toy_runs / "reverse", device="cpu")


@pytest.fixture(scope="module")
def reverse_lm(toy_runs):
    return open_run(toy_runs / "reverse-lm", device="cpu")


@pytest.mark.parametrize(
    ("kind", "command", "needs"),
    [
        (Generates, "generate", "a language model"),
        (Classifies, "classify", "a classification task"),
        (Summarizes, "summarize", "a summarisation task"),
    ],
)
def test_a_run_whose_task_lacks_the_capability_is_refused_naming_it(reverse, kind, command, needs):
    with pytest.raises(AiaynError) as error:
        capability(reverse, kind, command)
    assert (
        str(error.value)
        == f"{reverse.directory} is a 'reverse' run; `aiayn {command}` needs {needs}"
    )


def test_capability_gives_the_task(reverse, reverse_lm):
    assert capability(reverse, Translates, "translate") is reverse.task
    assert capability(reverse_lm, Generates, "generate") is reverse_lm.task
    with pytest.raises(
        AiaynError, match="'reverse-lm' run; `aiayn translate` needs a task that translates"
    ):
        capability(reverse_lm, Translates, "translate")


def test_each_command_refuses_the_wrong_run(reverse, reverse_lm, tmp_path):
    with pytest.raises(AiaynError, match="needs a task that translates"):
        translate_lines(reverse_lm, ["1 2"], SearchOptions())
    with pytest.raises(AiaynError, match="needs a classification task"):
        classify_lines(reverse, ["1 2"])
    with pytest.raises(AiaynError, match="needs a language model"):
        generate_text(reverse, "1 2", SamplingOptions(max_new_tokens=2))
    with pytest.raises(AiaynError, match="needs a summarisation task"):
        summarize_lines(reverse, ["1 2"])


def out_of(run, line: str) -> str:
    return translate_lines(run, [line], SearchOptions())[0]


def test_translate_lines_decodes_each_line_in_order(reverse):
    lines = ["3 1 4 1 5", "", "9 2", "0 0 1 2 3 4 5 6"]
    out = translate_lines(reverse, lines, SearchOptions())
    vocab = reverse.task.vocab
    src = pad([vocab.encode(line) for line in lines if line])
    expected = [
        vocab.decode(ids) for ids in greedy_decode(reverse.model, src, bos_id=BOS, eos_id=EOS)
    ]
    assert out == [expected[0], "", expected[1], expected[2]]
    beam = translate_lines(reverse, lines, SearchOptions(beam_size=2))
    assert len(beam) == 4 and beam[1] == ""
    # a line longer than the model is cut to it (with a warning) and the others go on
    long = translate_lines(reverse, ["1", " ".join(["1"] * 200), "2 3"], SearchOptions())
    assert len(long) == 3 and long[0] == out_of(reverse, "1") and long[2] == out_of(reverse, "2 3")


def test_generate_text_continues_the_prompt_as_typed(reverse_lm):
    options = SamplingOptions(max_new_tokens=4, temperature=0.0)
    text = generate_text(reverse_lm, "1 2  3", options)
    assert text.startswith("1 2  3") and len(text.split()) == 3 + 4  # the spacing kept
    assert generate_text(reverse_lm, "1 2 3", options, seed=1) == generate_text(
        reverse_lm, "1 2 3", options, seed=2
    )  # greedy: no randomness
    sampled = SamplingOptions(max_new_tokens=6)
    assert generate_text(reverse_lm, "4", sampled, seed=3) == generate_text(
        reverse_lm, "4", sampled, seed=3
    )


def test_generate_text_refuses_prompts_it_cannot_use(reverse_lm):
    options = SamplingOptions(max_new_tokens=2)
    with pytest.raises(AiaynError, match="the prompt is empty: pass --prompt TEXT"):
        generate_text(reverse_lm, "", options)
    with pytest.raises(AiaynError, match="the prompt '  ' gives no tokens"):
        generate_text(reverse_lm, "  ", options)
    max_len = reverse_lm.model_config.max_len
    with pytest.raises(
        AiaynError,
        match=f"the prompt has {max_len + 1} tokens, more than the model's maximum {max_len}",
    ):
        generate_text(reverse_lm, " ".join(["1"] * (max_len + 1)), options)


def test_classify_lines(sst2_run):
    run = load_run(sst2_run.run_dir, device=CPU)
    lines = ["a gorgeous , witty , seductive movie .", "", "dull and boring"]
    got = classify_lines(run, lines)
    assert got == sst2_run.task.classify(sst2_run.model.cpu(), lines)
    assert [label in ("negative", "positive") and 0.5 <= p <= 1 for label, p in got] == [True] * 3
    assert classify_lines(run, []) == []


def test_evaluate_run_scores_a_split(reverse):
    figures = evaluate_run(reverse, "val")
    assert set(figures) == {"val_loss", "val_token_accuracy", "val_exact_match"}
    assert figures == evaluate_run(reverse, "val")  # deterministic: eval mode, no grad


def test_average_run_writes_the_mean_of_the_last_checkpoints(toy_runs, tmp_path):
    run_dir = shutil.copytree(toy_runs / "reverse", tmp_path / "reverse")
    names, out = average_run(run_dir, 1)
    latest = (run_dir / "checkpoints" / "latest").read_text().strip()
    assert names == [latest] and out == run_dir / "averaged.safetensors"
    averaged = open_run(run_dir, checkpoint="averaged", device="cpu").model
    one = open_run(run_dir, checkpoint="latest", device="cpu").model
    for a, b in zip(averaged.parameters(), one.parameters(), strict=True):
        assert torch.equal(a, b)  # the mean of one checkpoint is that checkpoint
    with pytest.raises(AiaynError, match="has 1 checkpoints, fewer than --last 3"):
        average_run(run_dir, 3)


def test_open_run_picks_the_checkpoint(toy_runs):
    run = open_run(toy_runs / "reverse", device="cpu", checkpoint="best")
    best = json.loads((toy_runs / "reverse" / "checkpoints" / "best.json").read_text())["name"]
    model = load_run(toy_runs / "reverse", device=CPU).model
    load_weights(model, toy_runs / "reverse" / "checkpoints" / best / "model.safetensors")
    for a, b in zip(run.model.parameters(), model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert next(run.model.parameters()).device == CPU


def test_streamed_text_is_what_generate_text_writes_piece_by_piece(reverse_lm):
    greedy = SamplingOptions(max_new_tokens=6, temperature=0.0)
    pieces = list(stream_text(reverse_lm, "1 2  3", greedy))
    assert len(pieces) == 6  # one piece a token: a symbol and its space
    assert "1 2  3" + "".join(pieces) == generate_text(reverse_lm, "1 2  3", greedy)
    sampled = SamplingOptions(max_new_tokens=5, top_k=3)
    for seed in (0, 7):
        streamed = "4 5" + "".join(stream_text(reverse_lm, "4 5", sampled, seed=seed))
        assert streamed == generate_text(reverse_lm, "4 5", sampled, seed=seed)


def test_streaming_past_the_context_slides_the_window(reverse_lm):
    max_len = reverse_lm.model_config.max_len
    greedy = SamplingOptions(max_new_tokens=max_len + 3, temperature=0.0)
    pieces = list(stream_text(reverse_lm, "1", greedy))
    assert "1" + "".join(pieces) == generate_text(reverse_lm, "1", greedy)


def test_a_stream_records_the_prompt_s_ids_then_each_sampled_one(reverse_lm):
    task = reverse_lm.task
    greedy = SamplingOptions(max_new_tokens=5, temperature=0.0)
    record = [99]  # whatever it held before is replaced
    pieces = list(stream_text(reverse_lm, "3 1", greedy, record=record))
    assert record[:2] == task.encode_prompt("3 1")
    assert len(record) == 2 + len(pieces)
    assert task.decode_output(record) == generate_text(reverse_lm, "3 1", greedy)


def test_summaries_use_the_run_s_search_options_and_number_the_lines(text_runs):
    run = open_run(text_runs / "summarization", device="cpu")
    docs = ["the dog runs . der hund läuft", ""]
    got = summarize_lines(run, docs)
    assert got == run.task.translate(run.model, docs, run.task.search_options())
    assert got[1] == ""
    long = summarize_lines(run, [" ".join(["hund"] * 100)])  # the source is cut, not refused
    assert len(long) == 1


def test_an_over_long_line_is_cut_with_a_warning(reverse, caplog):
    with caplog.at_level(logging.WARNING, logger="aiayn.tasks.capabilities"):
        out = translate_lines(reverse, [" ".join(["1"] * 200)], SearchOptions(), first_line=7)
    assert len(out) == 1
    assert "a source line of 200 tokens" in caplog.text


def test_a_document_is_a_json_record_s_field_or_the_plain_line():
    assert document_of('{"document": "a b", "x": 1}', "document", 1) == "a b"
    assert document_of("plain { text", "document", 1) == "plain { text"
    assert document_of("{not json", "document", 1) == "{not json"
    with pytest.raises(AiaynError, match="line 3 is a JSON record without a text field 'doc'"):
        document_of('{"text": "a"}', "doc", 3)
