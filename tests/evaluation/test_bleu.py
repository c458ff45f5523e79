import json
import math

import pytest
import sacrebleu

from aiayn.evaluation import TranslationScores, corpus_scores

REFS = [
    "The cat sat on the mat.",
    "A quick brown fox jumps over the lazy dog.",
    "Attention is all you need.",
]


def test_references_against_themselves_score_100():
    scores = corpus_scores(REFS, REFS)
    assert scores.bleu == pytest.approx(100.0)
    assert scores.chrf == pytest.approx(100.0)
    assert scores.bleu_lc_tok == pytest.approx(100.0)
    assert scores.n_sentences == 3


def test_known_example_matches_sacrebleu_and_hand_value():
    hyps = ["the cat sat on the mat"]
    refs = ["the cat sat on a mat"]
    scores = corpus_scores(hyps, refs)
    assert scores.bleu == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert scores.chrf == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    # n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths so BP = 1
    hand = 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert scores.bleu == pytest.approx(hand, abs=1e-6)


def test_signatures_describe_the_setup():
    scores = corpus_scores(["a b c d"], ["a b c e"])
    for sig in (scores.bleu_signature, scores.chrf_signature):
        assert "nrefs:1" in sig
        assert "case:mixed" in sig
    assert "tok:13a" in scores.bleu_signature
    assert "case:lc" in scores.bleu_lc_tok_signature
    assert "tok:13a" in scores.bleu_lc_tok_signature


def test_lowercase_bleu_ignores_case_but_sacrebleu_does_not():
    hyps = ["THE CAT SAT ON THE MAT ."]
    refs = ["the cat sat on the mat ."]
    scores = corpus_scores(hyps, refs)
    assert scores.bleu_lc_tok == pytest.approx(100.0)
    # only the final "." matches in case; exponential smoothing keeps BLEU above 0
    assert scores.bleu == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert scores.bleu < 10.0


def test_to_dict_is_json_ready():
    scores = corpus_scores(REFS, REFS)
    d = scores.to_dict()
    assert set(d) == {
        "bleu",
        "bleu_signature",
        "chrf",
        "chrf_signature",
        "bleu_lc_tok",
        "bleu_lc_tok_signature",
        "n_sentences",
    }
    assert json.loads(json.dumps(d)) == d
    assert isinstance(scores, TranslationScores)
    assert all(math.isfinite(d[k]) for k in ("bleu", "chrf", "bleu_lc_tok"))


def test_scores_are_frozen():
    scores = corpus_scores(REFS, REFS)
    with pytest.raises(AttributeError):
        scores.bleu = 0.0


def test_mismatched_lengths_name_both():
    with pytest.raises(ValueError, match=r"len\(hypotheses\)=2.*len\(references\)=3"):
        corpus_scores(REFS[:2], REFS)


def test_empty_input_raises():
    with pytest.raises(ValueError, match="empty"):
        corpus_scores([], [])


def test_non_string_raises():
    with pytest.raises(ValueError, match=r"hypotheses\[1\]"):
        corpus_scores(["a", 3], ["a", "b"])
