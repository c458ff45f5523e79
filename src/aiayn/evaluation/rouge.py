"""ROUGE for summaries through Google's `rouge-score` package, with the Porter stemmer.

`rouge_scores(hypotheses, references)` returns the F-measures of ROUGE-1, ROUGE-2, ROUGE-L and
ROUGE-Lsum, times 100, averaged over examples. ROUGE is never reimplemented: `rouge-score` is the
reference (its tokenizer lowercases and keeps only ASCII letters and digits, so it suits English).

ROUGE-L scores the longest common subsequence of the two texts taken whole; ROUGE-Lsum takes the
union of LCS matches sentence by sentence, and `rouge-score` finds sentences only at newlines.
Both sides are therefore split with `split_sentences` (a rule, no model: see there) and rejoined
one sentence a line before scoring; ROUGE-1, -2 and -L do not see the difference.

Several references per example (DialogSum's test set has three) are combined per example, then
averaged over examples, by `multi_ref`:
- "mean" (the default): the mean of the F-measures against each reference;
- "max": the best F-measure over the references, for each metric on its own (what
  `RougeScorer.score_multi` does).
What the DialogSum authors did: they scored with py-rouge, following Gliwa et al. (2019), and fed
model outputs and references to it as they are, without newlines between sentences (answer of
the dataset's author in github.com/cylnlp/dialogsum issue #4). py-rouge's default for several
references is its "average" mode, which pools the n-gram counts of all references before taking
F; the mean of per-reference F-measures is the nearest that `rouge-score` offers, hence the
default here. The baseline script in the same repository (Baseline/bart_train.py) scores the
test set against `summary1` alone. The paper's own text on this point could not be checked.
Numbers from py-rouge are not exactly comparable with these: its tokenizer and ROUGE-L differ.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MULTI_REF_MODES: tuple[str, ...] = ("mean", "max")
_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")

# A sentence ends at ., ! or ? (and any closing quotes or brackets after it) followed by
# whitespace and something that can start a sentence: a capital, a digit, an opening quote or
# bracket, or "#" (DialogSum names its speakers #Person1#, #Person2#, ...).
_BOUNDARY = re.compile(r"""([.!?]+)(["'\u201d\u2019)\]]*)\s+(?=["'\u201c\u2018(\[]*[A-Z0-9#])""")
# Words before a "." that does not end a sentence: titles, and dotted abbreviations (e.g, U.S).
_TITLES = frozenset(
    {"Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Jr", "Sr", "Mt", "Gen", "Col", "Lt", "Sgt", "Capt"}
    | {"Rev", "Gov", "Sen", "Rep", "vs"}
)
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]|[A-Z]")


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`, without a model: every newline ends a sentence, and within a line a
    sentence ends at ".", "!" or "?" (with closing quotes or brackets) before whitespace and a
    capital letter, digit, opening quote or "#", unless the "." follows a title such as "Mr" or
    "Ms", a single capital (an initial) or a dotted abbreviation such as "e.g" or "U.S".

    Cutting only at whitespace keeps every word: "\\n".join(split_sentences(t)) has the same
    tokens as t. Mistakes are possible ("He moved to the U.S. Then..." stays one sentence).
    """
    sentences: list[str] = []
    for line in text.split("\n"):
        start = 0
        for match in _BOUNDARY.finditer(line):
            if match.group(1) == ".":
                word = line[start : match.start()].rsplit(None, 1)
                if word and (word[-1] in _TITLES or _DOTTED.fullmatch(word[-1])):
                    continue
            sentences.append(line[start : match.end(2)].strip())
            start = match.end()
        sentences.append(line[start:].strip())
    return [s for s in sentences if s]


@dataclass(frozen=True)
class RougeScores:
    """F-measures x 100, averaged over `n_examples`; `multi_ref` says how several references
    per example were combined ("mean" or "max"); `stemmer`: the Porter stemmer was used."""

    rouge_1: float
    rouge_2: float
    rouge_l: float
    rouge_lsum: float
    n_examples: int
    multi_ref: str
    stemmer: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for summary.json)."""
        return dataclasses.asdict(self)


def rouge_scores(
    hypotheses: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    multi_ref: str = "mean",
    stemmer: bool = True,
) -> RougeScores:
    """Score system summaries against references: `references[i]` is one string or a list of
    strings for `hypotheses[i]`. See the module docstring for `multi_ref`."""
    if multi_ref not in MULTI_REF_MODES:
        raise ValueError(f"multi_ref must be one of {MULTI_REF_MODES}, got {multi_ref!r}")
    if len(hypotheses) != len(references):
        raise ValueError(
            f"hypotheses and references must have the same length, got "
            f"len(hypotheses)={len(hypotheses)} and len(references)={len(references)}"
        )
    if not hypotheses:
        raise ValueError("hypotheses and references are empty: need at least one example")
    # Imported here, not at the top: rouge-score pulls in NLTK (and SciPy), over a second of
    # start-up that every `aiayn` command would pay, scoring a summary or not.
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(_TYPES), use_stemmer=stemmer)
    combine = max if multi_ref == "max" else _mean
    totals = dict.fromkeys(_TYPES, 0.0)
    for i, (hypothesis, refs) in enumerate(zip(hypotheses, references, strict=True)):
        if not isinstance(hypothesis, str):
            raise ValueError(f"hypotheses[{i}] must be a str, got {type(hypothesis).__name__}")
        refs = [refs] if isinstance(refs, str) else list(refs)
        if not refs or not all(isinstance(r, str) for r in refs):
            raise ValueError(f"references[{i}] must be a str or a non-empty list of str")
        prediction = _one_sentence_a_line(hypothesis)
        scores = [scorer.score(_one_sentence_a_line(r), prediction) for r in refs]
        for kind in _TYPES:
            totals[kind] += combine([s[kind].fmeasure for s in scores])
    n = len(hypotheses)
    return RougeScores(
        rouge_1=100 * totals["rouge1"] / n,
        rouge_2=100 * totals["rouge2"] / n,
        rouge_l=100 * totals["rougeL"] / n,
        rouge_lsum=100 * totals["rougeLsum"] / n,
        n_examples=n,
        multi_ref=multi_ref,
        stemmer=stemmer,
    )


def _one_sentence_a_line(text: str) -> str:
    return "\n".join(split_sentences(text))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


__all__ = ["MULTI_REF_MODES", "RougeScores", "rouge_scores", "split_sentences"]
