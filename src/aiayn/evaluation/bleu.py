"""Corpus-level translation scores through sacreBLEU: BLEU, chrF and a labelled legacy BLEU.

The paper reports BLEU on newstest2014. Numbers are only comparable when they are computed the same
way, so every score here comes with sacreBLEU's signature string (references, casing, tokenizer,
smoothing, version). BLEU itself is never reimplemented: sacrebleu is the reference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sacrebleu.metrics import BLEU, CHRF


@dataclass(frozen=True)
class TranslationScores:
    """Corpus scores of one system output against one reference per sentence.

    bleu, bleu_signature: sacreBLEU proper: detokenised, cased hypotheses against raw references,
        sacrebleu's defaults (13a tokenizer, exponential smoothing). The number to report.
    chrf, chrf_signature: character n-gram F-score (chrF2), sacrebleu's defaults.
    bleu_lc_tok, bleu_lc_tok_signature: "tokenised lowercase BLEU", the kind older tutorials and
        toolkits print: case-insensitive BLEU on 13a-tokenised text. It rewards outputs that get
        only the casing wrong, so it runs higher than `bleu` and is NOT comparable to sacreBLEU
        proper, nor to the paper's numbers. Kept only to compare with such tutorials.
    n_sentences: number of hypothesis/reference pairs scored.
    """

    bleu: float
    bleu_signature: str
    chrf: float
    chrf_signature: str
    bleu_lc_tok: float
    bleu_lc_tok_signature: str
    n_sentences: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for summary.json)."""
        return dataclasses.asdict(self)


def corpus_scores(hypotheses: list[str], references: list[str]) -> TranslationScores:
    """Score detokenised system outputs against raw references, one reference per hypothesis.

    hypotheses[i] is the system's translation of the sentence whose reference is references[i];
    both are plain (detokenised) strings, cased as the model produced / the test set gives them.
    """
    if len(hypotheses) != len(references):
        raise ValueError(
            f"hypotheses and references must have the same length, got "
            f"len(hypotheses)={len(hypotheses)} and len(references)={len(references)}"
        )
    if not hypotheses:
        raise ValueError("hypotheses and references are empty: need at least one sentence")
    for name, texts in (("hypotheses", hypotheses), ("references", references)):
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValueError(f"{name}[{i}] must be a str, got {type(text).__name__}")

    refs = [list(references)]  # sacrebleu takes one list per reference stream
    hyps = list(hypotheses)

    bleu = BLEU()
    bleu_score = bleu.corpus_score(hyps, refs)
    chrf = CHRF()
    chrf_score = chrf.corpus_score(hyps, refs)
    bleu_lc = BLEU(lowercase=True, tokenize="13a")
    bleu_lc_score = bleu_lc.corpus_score(hyps, refs)

    return TranslationScores(
        bleu=float(bleu_score.score),
        bleu_signature=str(bleu.get_signature()),
        chrf=float(chrf_score.score),
        chrf_signature=str(chrf.get_signature()),
        bleu_lc_tok=float(bleu_lc_score.score),
        bleu_lc_tok_signature=str(bleu_lc.get_signature()),
        n_sentences=len(hyps),
    )


__all__ = ["TranslationScores", "corpus_scores"]
