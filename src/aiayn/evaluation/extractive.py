"""Extractive baselines: summaries cut from the source itself, the floor beside every ROUGE figure.

For dialogues in DialogSum's format (one turn a line, `#PersonN#: text`): the first k utterances
(`lead_utterances`) and the longest one (`longest_utterance`). For plain documents: the first k
sentences (`lead_sentences`, the Lead-3 of news summarisation with k=3). Each returns one string,
one utterance or sentence a line, as `rouge_scores` expects.
"""

from __future__ import annotations

import re

from aiayn.evaluation.rouge import split_sentences

_SPEAKER = re.compile(r"#[^#\s]+#:\s*")  # "#Person1#: " at the start of a turn


def utterances(dialogue: str, *, speakers: bool = True) -> list[str]:
    """The turns of a dialogue, one a line, blank lines dropped; `speakers=False` removes the
    leading `#PersonN#:` tag of each."""
    turns = [line.strip() for line in dialogue.split("\n") if line.strip()]
    if not speakers:
        turns = [_without_speaker(turn) for turn in turns]
    return turns


def lead_utterances(dialogue: str, k: int, *, speakers: bool = True) -> str:
    """The first `k` utterances of `dialogue` (all of them if it has fewer), one a line."""
    _check_k(k)
    return "\n".join(utterances(dialogue, speakers=speakers)[:k])


def longest_utterance(dialogue: str, *, speakers: bool = True) -> str:
    """The utterance with the most words, speaker tag not counted (the first of equals); "" for
    a dialogue without any."""
    turns = utterances(dialogue, speakers=speakers)
    if not turns:
        return ""
    words = [len(_without_speaker(turn).split()) for turn in turns]
    return turns[words.index(max(words))]


def lead_sentences(document: str, k: int) -> str:
    """The first `k` sentences of `document` (see `split_sentences`), one a line."""
    _check_k(k)
    return "\n".join(split_sentences(document)[:k])


def _without_speaker(turn: str) -> str:
    match = _SPEAKER.match(turn)
    return turn[match.end() :] if match else turn


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")


__all__ = ["lead_sentences", "lead_utterances", "longest_utterance", "utterances"]
