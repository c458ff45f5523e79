"""What the live page needs from a trained model: the `ServeBackend` protocol and its `Answer`.

The server never touches a model, tokenizer or device: a backend built for one run directory does
that, and the server only calls the method that fits the backend's `kind`. Calls are made one at
a time (the server holds a lock around each), so a backend need not be thread-safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from aiayn.web.attention import AttentionView

KINDS: tuple[str, ...] = ("translation", "summarization", "generation", "classification")


@dataclass(frozen=True, kw_only=True)
class Answer:
    """A backend's answer to one input.

    text: the translation or summary (translation, summarization) or the predicted label
    (classification). labels and probabilities: for classification, one probability per label,
    in the order to show them (empty otherwise). attention: the weights behind the answer,
    drawn beside it, or None. For a translation the natural view is encoder-decoder attention
    (output tokens as queries, input tokens as keys); for a classifier, the encoder's
    self-attention over the input.
    """

    text: str
    labels: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    attention: AttentionView | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ValueError(f"Answer.text must be a str, got {self.text!r}")
        if not all(isinstance(label, str) for label in self.labels):
            raise ValueError(f"Answer.labels must be a list of str, got {self.labels!r}")
        if len(self.probabilities) != len(self.labels):
            raise ValueError(
                f"Answer.probabilities must hold one number per label ({len(self.labels)}), "
                f"got {len(self.probabilities)}"
            )
        for p in self.probabilities:
            if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
                raise ValueError(f"Answer.probabilities must be numbers in [0, 1], got {p!r}")
        if self.attention is not None and not isinstance(self.attention, AttentionView):
            raise ValueError(
                f"Answer.attention must be an AttentionView or None, "
                f"got {type(self.attention).__name__}"
            )

    def to_json(self) -> dict:
        """The answer as the live page reads it."""
        return {
            "text": self.text,
            "labels": list(self.labels),
            "probabilities": [float(p) for p in self.probabilities],
            "attention": None if self.attention is None else self.attention.to_json(),
        }


@runtime_checkable
class ServeBackend(Protocol):
    """A trained model behind the live page, built by the caller for one run.

    `kind` is one of KINDS and says which method the server calls (a summarisation backend
    answers through `translate`, a summary being a translation into a shorter text); the other
    methods are never called and may raise NotImplementedError. Input length and generation
    length are checked by the server before a call (text is non-empty and at most
    `max_input_chars`; `max_new_tokens` is at least 1 and at most the server's cap). A
    `ValueError` or `AiaynError` raised by a method is shown to the user as a bad-input message
    (HTTP 400); any other exception is logged and answered with HTTP 500, and the server keeps
    serving.
    """

    kind: str

    def translate(self, text: str, *, beam: int, alpha: float) -> Answer:
        """Translate `text` with beam search of width `beam` (1: greedy) and length penalty
        `alpha` (0: none; the paper uses beam 4 and alpha 0.6)."""
        ...

    def generate(
        self, prompt: str, *, max_new_tokens: int, temperature: float, top_k: int | None
    ) -> Iterator[str]:
        """Continue `prompt`, yielding the new text piece by piece as it is sampled (at most
        `max_new_tokens` tokens; temperature 0 may mean greedy; top_k None: no cut-off).
        The server may stop iterating early (the user left) and then closes the iterator."""
        ...

    def classify(self, text: str) -> Answer:
        """Classify `text`: an Answer with every label and its probability."""
        ...

    def generation_attention(self) -> AttentionView | None:
        """The attention behind the generation that just ended (for a language model, its
        masked self-attention over the prompt and what it wrote), or None. Called once the
        pieces are all out, under the same lock as `generate`."""
        ...
