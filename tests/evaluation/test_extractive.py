"""Extractive baselines on dialogues in DialogSum's turn format and on plain documents."""

from __future__ import annotations

import pytest

from aiayn.evaluation.extractive import (
    lead_sentences,
    lead_utterances,
    longest_utterance,
    utterances,
)
from aiayn.evaluation.rouge import rouge_scores

DIALOGUE = (
    "#Person1#: Hello.\n"
    "#Person2#: Hi, I would like to return these shoes please.\n"
    "\n"
    "#Person1#: Sure, do you have the receipt?\n"
    "#Person2#: Yes, here it is."
)


def test_utterances_drop_blank_lines_and_optionally_speakers() -> None:
    assert len(utterances(DIALOGUE)) == 4
    assert utterances(DIALOGUE, speakers=False)[0] == "Hello."
    assert utterances("no tag here\n#Person1#: tagged", speakers=False) == ["no tag here", "tagged"]


def test_lead_utterances() -> None:
    assert lead_utterances(DIALOGUE, 1) == "#Person1#: Hello."
    assert lead_utterances(DIALOGUE, 2).split("\n") == utterances(DIALOGUE)[:2]
    assert lead_utterances(DIALOGUE, 10) == "\n".join(utterances(DIALOGUE))
    assert lead_utterances(DIALOGUE, 2, speakers=False).startswith("Hello.\nHi, I")


def test_longest_utterance_counts_words_not_the_tag() -> None:
    assert longest_utterance(DIALOGUE) == utterances(DIALOGUE)[1]
    # the first of two equally long turns; a long speaker tag does not make a turn longer
    assert longest_utterance("#A#: one two\n#PersonWithALongName#: three four") == "#A#: one two"
    assert longest_utterance("\n\n") == ""


def test_lead_sentences() -> None:
    document = "Mr. Smith went to Washington. He met the press! Then he left. The end."
    assert lead_sentences(document, 2) == "Mr. Smith went to Washington.\nHe met the press!"
    assert lead_sentences("One sentence only", 3) == "One sentence only"


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_k_must_be_a_positive_int(k: object) -> None:
    with pytest.raises(ValueError, match="k must be a positive int"):
        lead_utterances(DIALOGUE, k)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must be a positive int"):
        lead_sentences("A. B.", k)  # type: ignore[arg-type]


def test_baselines_score_with_the_same_rouge() -> None:
    reference = "#Person1# helps #Person2# return the shoes."
    lead = rouge_scores([lead_utterances(DIALOGUE, 1)], [reference])
    longest = rouge_scores([longest_utterance(DIALOGUE)], [reference])
    assert longest.rouge_1 > lead.rouge_1 > 0  # the longest turn has #Person2#, return, shoes
