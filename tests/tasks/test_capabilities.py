"""The capabilities a task declares, and the decoding loop `Translates` brings: input order kept
while batching by length, empty lines giving empty outputs, an over-long line cut to the model
with a warning."""

from __future__ import annotations

import logging
from typing import ClassVar

import pytest
import torch
from torch import nn

from aiayn.decoding import SearchOptions
from aiayn.tasks import (
    TASKS,
    Classifies,
    DrawsAttention,
    Generates,
    Summarizes,
    Translates,
    capabilities,
    get_task,
)

PAD, BOS, EOS = 0, 1, 2


class Letters(Translates):
    """A text task over letters: 'a' is id 3, 'b' id 4, ..."""

    bos_id: ClassVar[int] = BOS
    eos_id: ClassVar[int] = EOS
    pad_id: ClassVar[int] = PAD

    def encode_source(self, text: str) -> list[int]:
        return [ord(c) - ord("a") + 3 for c in text.replace(" ", "")]

    def decode_target(self, ids: list[int]) -> str:
        return "".join(chr(i - 3 + ord("a")) for i in ids)


class Model(nn.Module):
    def __init__(self, max_len: int) -> None:
        super().__init__()
        self.config = type("Config", (), {"max_len": max_len})()
        self.weight = nn.Parameter(torch.zeros(1))


@pytest.fixture
def reversing_decoder(monkeypatch):
    """Replace the decoder with one that reverses each source; record every batch it gets."""
    batches: list[torch.Tensor] = []

    def decode(model, src, *, bos_id, eos_id, options):
        assert (bos_id, eos_id) == (BOS, EOS)
        batches.append(src.clone())
        return [[t for t in row if t != PAD][::-1] for row in src.tolist()]

    monkeypatch.setattr(capabilities, "decode", decode)
    return batches


def test_translate_keeps_the_input_order_while_batching_by_length(reversing_decoder, monkeypatch):
    monkeypatch.setattr(capabilities, "TRANSLATE_BATCH", 2)
    lines = ["abcde", "a", "", "abc", "ab", "abcd", ""]
    out = Letters().translate(Model(max_len=10), lines, SearchOptions())
    assert out == ["edcba", "a", "", "cba", "ba", "dcba", ""]
    # sources sorted by length, two a batch, the empty lines never decoded
    assert [b.tolist() for b in reversing_decoder] == [
        [[3, 0], [3, 4]],
        [[3, 4, 5, 0], [3, 4, 5, 6]],
        [[3, 4, 5, 6, 7]],
    ]


def test_only_empty_lines_decode_nothing(reversing_decoder):
    assert Letters().translate(Model(max_len=10), ["", " "], SearchOptions()) == ["", ""]
    assert Letters().translate(Model(max_len=10), [], SearchOptions()) == []
    assert reversing_decoder == []


def test_a_line_longer_than_the_model_is_cut_to_it_with_a_warning(reversing_decoder, caplog):
    lines = ["ab", "abc", "abcdef", "abcdefg"]
    with caplog.at_level(logging.WARNING, logger="aiayn.tasks.capabilities"):
        out = Letters().translate(Model(max_len=3), lines, SearchOptions())
    assert out == ["ba", "cba", "cba", "cba"]  # the other lines go on
    assert [r.getMessage() for r in caplog.records] == [
        f"a source line of {n} tokens ({text!r}) is longer than the model's maximum 3: only "
        f"its first 3 tokens are translated (input line {line})"
        for n, text, line in ((6, "abcdef", 3), (7, "abcdefg", 4))
    ]


def test_fit_source_keeps_a_final_eos_and_quotes_the_start_of_the_line(caplog):
    assert capabilities.fit_source([5, 6, EOS], 3, eos_id=EOS) == [5, 6, EOS]  # fits: unchanged
    with caplog.at_level(logging.WARNING, logger="aiayn.tasks.capabilities"):
        assert capabilities.fit_source([5, 6, 7, EOS], 3, eos_id=EOS, text="x" * 40) == [5, 6, EOS]
        assert capabilities.fit_source([5, 6, 7, 8], 3, eos_id=EOS) == [5, 6, 7]
    assert f"({'x' * 30 + '...'!r})" in caplog.records[0].getMessage()


def test_the_search_options_reach_the_decoder(monkeypatch):
    seen = []
    monkeypatch.setattr(
        capabilities, "decode", lambda *a, options, **k: seen.append(options) or [[]]
    )
    options = SearchOptions(beam_size=3, alpha=0.2)
    Letters().translate(Model(max_len=10), ["ab"], options)
    assert seen == [options]


def test_generates_heals_no_prompt_unless_a_task_says_so():
    class Echo(Generates):
        eos_id: ClassVar[int | None] = None

        def encode_prompt(self, text):
            return []

        def decode_output(self, ids):
            return ""

    assert Echo().heal_prompt("to be or") == ("to be or", None)


# What each task can do with a trained model (the commands that accept its runs).
CAPABILITIES = {
    "copy": {Translates, DrawsAttention},
    "reverse": {Translates, DrawsAttention},
    "reverse-lm": {Generates, DrawsAttention},
    "multi30k": {Translates, DrawsAttention},
    "translation": {Translates, DrawsAttention},
    "summarization": {Translates, Summarizes, DrawsAttention},
    "dialogsum": {Translates, Summarizes, DrawsAttention},
    "cnn-dailymail": {Translates, Summarizes, DrawsAttention},
    "classification": {Classifies, DrawsAttention},
    "sst2": {Classifies, DrawsAttention},
    "shakespeare": {Generates, DrawsAttention},
    "tinyshakespeare-char": {Generates, DrawsAttention},
}


def test_the_capability_table_covers_every_task():
    assert set(CAPABILITIES) == set(TASKS)


@pytest.mark.parametrize("name", sorted(CAPABILITIES))
def test_each_task_has_exactly_its_capabilities(name):
    task = get_task(name)
    kinds = (Translates, Summarizes, Generates, Classifies, DrawsAttention)
    has = {c for c in kinds if isinstance(task, c)}
    assert has == CAPABILITIES[name]
    if Translates in has:  # the special ids the shared loop needs
        assert {task.bos_id, task.eos_id, task.pad_id} <= set(range(8))
