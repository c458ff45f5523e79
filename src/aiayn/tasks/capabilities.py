"""What a task can do with a trained model, beyond training and evaluating it.

Each capability is a small protocol that a task declares by inheriting it; the applications ask
`isinstance(task, Translates)`, never whether some method happens to exist:

- `Translates`: an encoder-decoder over text; source lines in, output lines out (`aiayn
  translate`). It brings the batched decoding loop; a task supplies `encode_source`,
  `decode_target` and its special ids.
- `Generates`: a language model that continues a prompt (`aiayn generate`).
- `Summarizes`: a `Translates` task whose outputs are summaries (`aiayn summarize`).
- `Classifies`: sentences in, a label and its probability out (`aiayn classify`).
- `DrawsAttention`: every attention of one input, each layer and head (`aiayn attention`,
  `aiayn report`, `aiayn serve`).
"""

from __future__ import annotations

import logging
from typing import ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from aiayn.data import collate
from aiayn.decoding import SearchOptions, decode
from aiayn.evaluation.attention_viz import AttentionMap
from aiayn.training.device import device_of

TRANSLATE_BATCH = 64  # sources decoded together

log = logging.getLogger(__name__)


def fit_source(
    ids: list[int], max_len: int, *, eos_id: int, text: str = "", line: int | None = None
) -> list[int]:
    """`ids` cut to the model's `max_len` positions, with a warning naming the line; an <eos>
    that ended the source still ends it. Ids that fit come back unchanged."""
    if len(ids) <= max_len:
        return ids
    quoted = text[:30] + ("..." if len(text) > 30 else "")
    log.warning(
        "a source line of %d tokens (%r) is longer than the model's maximum %d: only its "
        "first %d tokens are translated%s",
        len(ids),
        quoted,
        max_len,
        max_len,
        "" if line is None else f" (input line {line})",
    )
    return [*ids[: max_len - 1], eos_id] if ids[-1] == eos_id else ids[:max_len]


@runtime_checkable
class Translates(Protocol):
    """An encoder-decoder task over text. A task supplies the two codecs and the special ids;
    `translate` is shared."""

    bos_id: ClassVar[int]
    eos_id: ClassVar[int]
    pad_id: ClassVar[int]

    def encode_source(self, text: str) -> list[int]:
        """The source ids the model reads for `text` ([] for an empty line)."""
        ...

    def decode_target(self, ids: list[int]) -> str:
        """The text of generated ids (without <bos> and <eos>)."""
        ...

    def translate(
        self, model: nn.Module, lines: list[str], options: SearchOptions, *, first_line: int = 1
    ) -> list[str]:
        """Decode `lines`, batched by length, in input order. Empty lines give empty outputs; a
        line longer than the model's maximum is cut to it, with a warning naming it
        (`fit_source`; the first of `lines` is line `first_line` of the input)."""
        max_len = model.config.max_len
        encoded = [
            fit_source(
                self.encode_source(line), max_len, eos_id=self.eos_id, text=line, line=number
            )
            for number, line in enumerate(lines, start=first_line)
        ]
        outputs = [""] * len(lines)
        order = sorted((i for i, ids in enumerate(encoded) if ids), key=lambda i: len(encoded[i]))
        device = device_of(model)
        for start in range(0, len(order), TRANSLATE_BATCH):
            chunk = order[start : start + TRANSLATE_BATCH]
            src = collate([encoded[i] for i in chunk], self.pad_id).to(device)  # (B, S)
            with torch.no_grad():
                hyps = decode(model, src, bos_id=self.bos_id, eos_id=self.eos_id, options=options)
            for i, hyp in zip(chunk, hyps, strict=True):
                outputs[i] = self.decode_target(hyp)
        return outputs


@runtime_checkable
class Generates(Protocol):
    """A language-model task: a prompt in, its continuation out."""

    eos_id: ClassVar[int | None]  # generation stops at it (None: only at the length limit)

    def encode_prompt(self, text: str) -> list[int]:
        """A prompt -> ids (the task's tokenizer)."""
        ...

    def decode_output(self, ids: list[int]) -> str: ...

    def heal_prompt(self, text: str) -> tuple[str, list[int] | None]:
        """A prompt -> (the text to encode, the ids its first new token may take, or None).

        Tokenizers that cut a prompt the way they cut the text can override this to take off a
        last piece that training text would have continued (token healing)."""
        return text, None


@runtime_checkable
class Classifies(Protocol):
    """A sentence-classification task."""

    def labels(self) -> list[str]:
        """The class names, in class-id order."""
        ...

    def classify(self, model: nn.Module, lines: list[str]) -> list[tuple[str, float]]:
        """The most probable label and its probability for each line."""
        ...


@runtime_checkable
class Summarizes(Translates, Protocol):
    """A summarisation task: documents in, summaries out, decoded with the task's own search
    options (beam, length bounds, n-gram repeat blocking)."""

    def source_field(self) -> str:
        """The field of a JSON-lines record that holds the document."""
        ...

    def search_options(self) -> SearchOptions: ...


@runtime_checkable
class DrawsAttention(Protocol):
    """A task that can show where its trained model looks when it reads one input.

    `attention_kinds` are the kinds its model has (aiayn.evaluation.attention_viz.KINDS), the
    first being the one drawn by default. aiayn.tasks.attention implements this for each
    architecture."""

    attention_kinds: ClassVar[tuple[str, ...]]

    def attention(
        self, model: nn.Module, text: str, *, options: SearchOptions
    ) -> tuple[str, dict[str, AttentionMap]]:
        """(the model's answer to `text`, its attention by kind, each (L, H, Tq, Tk)).

        The answer is the translation or summary (encoder-decoder), the label and its
        probability (classifier), or "" (language model: the attention over `text` itself)."""
        ...


__all__ = ["Classifies", "DrawsAttention", "Generates", "Summarizes", "Translates", "fit_source"]
