"""A run behind the live page: the backend's kind follows the task, and each kind answers."""

from __future__ import annotations

import pytest

from aiayn.app.attention import attention_views
from aiayn.app.serve import RunBackend, kind_of
from aiayn.app.use import generate_text, open_run
from aiayn.decoding import SamplingOptions
from aiayn.web import ServeBackend


def test_the_kind_follows_the_task(toy_runs, text_runs):
    assert kind_of(open_run(toy_runs / "reverse", device="cpu")) == "translation"
    assert kind_of(open_run(toy_runs / "reverse-lm", device="cpu")) == "generation"
    assert kind_of(open_run(text_runs / "summarization", device="cpu")) == "summarization"


def test_a_translation_comes_with_its_encoder_decoder_attention(toy_runs):
    run = open_run(toy_runs / "reverse", device="cpu")
    backend = RunBackend(run)
    assert isinstance(backend, ServeBackend)
    answer = backend.translate("3 1 4", beam=2, alpha=0.6)
    assert answer.text == run.task.translate(run.model, ["3 1 4"], backend._search(2, 0.6))[0]
    assert answer.attention.key_tokens == ["3", "1", "4"]
    # a source longer than the model is cut to it (with a warning), as on the command line
    long = backend.translate(" ".join(["1"] * 300), beam=1, alpha=0.0)
    assert 0 < len(long.attention.key_tokens) <= run.model_config.max_len
    with pytest.raises(NotImplementedError):
        backend.classify("x")


def test_a_generation_streams_and_each_request_samples_afresh(toy_runs):
    run = open_run(toy_runs / "reverse-lm", device="cpu")
    backend = RunBackend(run)
    pieces = list(backend.generate("1 2", max_new_tokens=4, temperature=0.0, top_k=None))
    greedy = SamplingOptions(max_new_tokens=4, temperature=0.0)
    assert "1 2" + "".join(pieces) == generate_text(run, "1 2", greedy)


def test_a_generation_ends_with_the_attention_over_what_was_written(toy_runs):
    run = open_run(toy_runs / "reverse-lm", device="cpu")
    backend = RunBackend(run)
    assert backend.generation_attention() is None  # nothing generated yet
    text = "1 2" + "".join(backend.generate("1 2", max_new_tokens=4, temperature=0.0, top_k=None))
    view = backend.generation_attention()
    # the prompt's two tokens and the four written, each as the model's own attention of them
    assert view.query_tokens == view.key_tokens == text.split()
    _, (same,) = attention_views(run, text)
    assert view.weights == same.weights
    # past the model's context: the window the model saw when it wrote the last token
    max_len = run.model_config.max_len
    list(backend.generate("1", max_new_tokens=max_len + 2, temperature=0.0, top_k=None))
    assert len(backend.generation_attention().query_tokens) == max_len


def test_a_summary_uses_the_run_s_length_bounds(text_runs):
    run = open_run(text_runs / "summarization", device="cpu")
    backend = RunBackend(run)
    doc = "the dog runs . der hund läuft"
    answer = backend.translate(doc, beam=1, alpha=0.0)
    options = backend._search(1, 0.0)
    assert options.max_len == run.task.opts["max_len"] == 12  # the run's own bound
    assert answer.text == run.task.translate(run.model, [doc], options)[0]
    assert len(answer.attention.query_tokens) <= 12 + 1  # the output and <eos>


def test_a_classifier_answers_every_label_with_its_attention(sst2_run):
    run = open_run(sst2_run.run_dir, device="cpu")
    answer = RunBackend(run).classify("a gorgeous , witty movie")
    assert answer.labels == ["negative", "positive"]
    assert abs(sum(answer.probabilities) - 1) < 1e-5
    assert answer.text == answer.labels[answer.probabilities.index(max(answer.probabilities))]
    assert answer.attention.query_tokens[0] == "<bos>"
