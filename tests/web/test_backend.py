from __future__ import annotations

from collections.abc import Iterator

import pytest

from aiayn.web.attention import AttentionView
from aiayn.web.backend import Answer, ServeBackend


class Complete:
    kind = "classification"

    def translate(self, text: str, *, beam: int, alpha: float) -> Answer:
        raise NotImplementedError

    def generate(
        self, prompt: str, *, max_new_tokens: int, temperature: float, top_k: int | None
    ) -> Iterator[str]:
        raise NotImplementedError

    def classify(self, text: str) -> Answer:
        return Answer(text="pos", labels=["neg", "pos"], probabilities=[0.25, 0.75])

    def generation_attention(self) -> AttentionView | None:
        return None


class NoKind:
    def translate(self, text: str, *, beam: int, alpha: float) -> Answer: ...
    def generate(self, prompt: str, **options: object) -> Iterator[str]: ...
    def classify(self, text: str) -> Answer: ...
    def generation_attention(self) -> AttentionView | None: ...


def test_a_class_with_kind_and_the_four_methods_is_a_backend() -> None:
    assert isinstance(Complete(), ServeBackend)
    assert not isinstance(NoKind(), ServeBackend)


def test_answer_to_json_carries_labels_probabilities_and_attention() -> None:
    view = AttentionView(title="self", query_tokens=["a"], key_tokens=["a"], weights=[[[[1]]]])
    answer = Answer(text="pos", labels=["neg", "pos"], probabilities=[0, 1], attention=view)
    assert answer.to_json() == {
        "text": "pos",
        "labels": ["neg", "pos"],
        "probabilities": [0.0, 1.0],
        "attention": view.to_json(),
    }
    assert Answer(text="hi").to_json()["attention"] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": None}, "text must be a str"),
        ({"text": "a", "labels": ["x", 2], "probabilities": [0.5, 0.5]}, "labels must be a list"),
        ({"text": "a", "labels": ["x"], "probabilities": []}, "one number per label"),
        ({"text": "a", "labels": ["x"], "probabilities": [1.5]}, r"numbers in \[0, 1\], got 1.5"),
        ({"text": "a", "attention": {"weights": []}}, "AttentionView or None, got dict"),
    ],
)
def test_answer_refuses_bad_fields(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Answer(**fields)
