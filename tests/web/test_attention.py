from __future__ import annotations

import math

import pytest

from aiayn.web.attention import AttentionView


def uniform(layers: int, heads: int, nq: int, nk: int) -> list:
    return [[[[1.0 / nk] * nk for _ in range(nq)] for _ in range(heads)] for _ in range(layers)]


def test_a_view_knows_its_layers_and_heads() -> None:
    view = AttentionView(
        title="self",
        query_tokens=["a", "b"],
        key_tokens=["x", "y", "z"],
        weights=uniform(2, 3, 2, 3),
    )
    assert (view.n_layers, view.n_heads) == (2, 3)


def test_to_json_rounds_to_what_the_page_shows() -> None:
    view = AttentionView(
        title="t", query_tokens=["a"], key_tokens=["x", "y"], weights=[[[[1 / 3, 2 / 3]]]]
    )
    assert view.to_json()["weights"] == [[[[0.3333, 0.6667]]]]


def test_to_json_holds_floats_in_the_same_nesting() -> None:
    view = AttentionView(title="t", query_tokens=["a"], key_tokens=["x", "y"], weights=[[[[0, 1]]]])
    data = view.to_json()
    assert data == {
        "title": "t",
        "query_tokens": ["a"],
        "key_tokens": ["x", "y"],
        "weights": [[[[0.0, 1.0]]]],
    }
    assert all(isinstance(w, float) for w in data["weights"][0][0][0])


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([], "non-empty list of layers"),
        ([[]], r"weights\[0\] must be a non-empty list of heads"),
        (
            [uniform(1, 2, 2, 2)[0], uniform(1, 1, 2, 2)[0]],
            r"weights\[1\] must be a list of 2 heads",
        ),
        ([[[[0.5, 0.5]]]], r"weights\[0\]\[0\] must be a list of 2 rows, one per query token"),
        ([[[[0.5, 0.5], [1.0]]]], r"weights\[0\]\[0\]\[1\] must be a list of 2 numbers"),
        ([[[[0.5, "x"], [0.5, 0.5]]]], "a list of numbers"),
        ([[[[0.5, True], [0.5, 0.5]]]], "a list of numbers"),
        ([[[[math.nan, 0.5], [0.5, 0.5]]]], "finite non-negative"),
        ([[[[-0.1, 1.1], [0.5, 0.5]]]], "finite non-negative"),
        ("not a list", "non-empty list of layers"),
    ],
)
def test_bad_weights_are_refused_with_where_and_what(weights: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AttentionView(title="t", query_tokens=["a", "b"], key_tokens=["x", "y"], weights=weights)


def test_tokens_must_be_non_empty_lists_of_str() -> None:
    with pytest.raises(ValueError, match="query_tokens must hold at least one token"):
        AttentionView(title="t", query_tokens=[], key_tokens=["x"], weights=[[[]]])
    with pytest.raises(ValueError, match="key_tokens must be a list of str"):
        AttentionView(title="t", query_tokens=["a"], key_tokens=[1], weights=[[[[1.0]]]])
    with pytest.raises(ValueError, match="title must be a str"):
        AttentionView(title=None, query_tokens=["a"], key_tokens=["x"], weights=[[[[1.0]]]])
