"""ROUGE through rouge-score: hand-computed values, stemming, ROUGE-Lsum's sentences, several
references, and the sentence splitter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from aiayn.evaluation.rouge import RougeScores, rouge_scores, split_sentences


def test_identical_and_disjoint() -> None:
    same = rouge_scores(["The cat sat."], ["The cat sat."])
    assert (same.rouge_1, same.rouge_2, same.rouge_l, same.rouge_lsum) == (100, 100, 100, 100)
    none = rouge_scores(["The cat sat."], ["A dog ran."])
    assert (none.rouge_1, none.rouge_2, none.rouge_l, none.rouge_lsum) == (0, 0, 0, 0)


def test_hand_computed_rouge_1_and_2() -> None:
    # 5 of 6 unigrams match each way (one "the" of two); bigrams: "the cat", "cat sat", "sat on"
    # match, 3 of 5 each way.
    scores = rouge_scores(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert scores.rouge_1 == pytest.approx(100 * 5 / 6)
    assert scores.rouge_2 == pytest.approx(100 * 3 / 5)
    assert scores.rouge_l == pytest.approx(100 * 5 / 6)


def test_average_over_examples() -> None:
    scores = rouge_scores(["a b", "c d"], ["a b", "x y"])
    assert scores.rouge_1 == pytest.approx(50) and scores.n_examples == 2


def test_same_as_rouge_score_with_one_sentence_a_line() -> None:
    hypothesis = "Ms. Lee wants a refund. The clerk agrees and gives her the money back."
    reference = "The clerk gives Ms. Lee her money back. She had asked for a refund."
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    expected = scorer.score(
        "\n".join(split_sentences(reference)), "\n".join(split_sentences(hypothesis))
    )
    scores = rouge_scores([hypothesis], [reference])
    assert scores.rouge_1 == pytest.approx(100 * expected["rouge1"].fmeasure)
    assert scores.rouge_2 == pytest.approx(100 * expected["rouge2"].fmeasure)
    assert scores.rouge_l == pytest.approx(100 * expected["rougeL"].fmeasure)
    assert scores.rouge_lsum == pytest.approx(100 * expected["rougeLsum"].fmeasure)


def test_stemming() -> None:
    assert rouge_scores(["running dogs"], ["run dog"]).rouge_1 == 100
    unstemmed = rouge_scores(["running dogs"], ["run dog"], stemmer=False)
    assert unstemmed.rouge_1 == 0 and not unstemmed.stemmer


def test_rouge_lsum_sees_sentences_rouge_l_does_not() -> None:
    scores = rouge_scores(["One two three. Four five six."], ["Four five six. One two three."])
    assert scores.rouge_l == pytest.approx(50)
    assert scores.rouge_lsum == pytest.approx(100)


def test_several_references_mean_and_max() -> None:
    refs = [["the cat sat on a mat", "a dog ran"]]
    mean = rouge_scores(["the cat sat on the mat"], refs)
    best = rouge_scores(["the cat sat on the mat"], refs, multi_ref="max")
    assert mean.multi_ref == "mean" and best.multi_ref == "max"
    assert best.rouge_1 == pytest.approx(100 * 5 / 6)
    assert mean.rouge_1 == pytest.approx(100 * 5 / 12)


def test_one_reference_as_a_list_is_the_same_as_a_string() -> None:
    assert rouge_scores(["a b c"], [["a b d"]]) == rouge_scores(["a b c"], ["a b d"])


def test_to_dict() -> None:
    d = rouge_scores(["a"], ["a"]).to_dict()
    assert d["rouge_lsum"] == 100 and d["multi_ref"] == "mean"
    assert RougeScores(**d) == rouge_scores(["a"], ["a"])


@pytest.mark.parametrize(
    ("hypotheses", "references", "kwargs", "match"),
    [
        (["a"], ["a", "b"], {}, "same length"),
        ([], [], {}, "empty"),
        (["a"], [[]], {}, r"references\[0\]"),
        (["a"], [[1]], {}, r"references\[0\]"),
        ([None], ["a"], {}, r"hypotheses\[0\]"),
        (["a"], ["a"], {"multi_ref": "best"}, "multi_ref"),
    ],
)
def test_bad_arguments(hypotheses: list, references: list, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        rouge_scores(hypotheses, references, **kwargs)


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "Ms. Dawson helps #Person1# write a memo. #Person1# insists.",
            ["Ms. Dawson helps #Person1# write a memo.", "#Person1# insists."],
        ),
        ('He said "Stop!" Then he left.', ['He said "Stop!"', "Then he left."]),
        ("J. K. Rowling wrote books, e.g. Harry Potter. Sales rose 3.5 times.", None),
        ("line one\nline two.  Next? yes", ["line one", "line two.", "Next? yes"]),
        ("The end (of it.) New one", ["The end (of it.)", "New one"]),
        ("  \n\n ", []),
    ],
)
def test_split_sentences(text: str, sentences: list[str] | None) -> None:
    if sentences is None:  # no false cut at initials, e.g., or a decimal point
        sentences = ["J. K. Rowling wrote books, e.g. Harry Potter.", "Sales rose 3.5 times."]
    assert split_sentences(text) == sentences


@given(st.text(alphabet=st.sampled_from(list("aB3 .!?\"'()#\n\t")), max_size=60))
def test_split_sentences_keeps_every_token(text: str) -> None:
    assert "\n".join(split_sentences(text)).split() == text.split()
