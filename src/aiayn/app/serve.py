"""A trained run behind the live page: the ServeBackend of aiayn.web for one run directory.

The backend's kind follows the run's task: translation (beam size and length penalty from the
page), summarization (the run's own length bounds and repeat blocking, beam and alpha from the
page), generation (streamed token by token) or classification (every label's probability).
Each answer comes with the attention behind it: encoder-decoder attention of the output over
the input, a language model's masked self-attention over the prompt and what it wrote (sent
when the stream ends), or a classifier's self-attention over the sentence.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import torch

from aiayn.app.attention import attention_views, written_view
from aiayn.app.runs import Run
from aiayn.app.use import stream_text
from aiayn.decoding import SamplingOptions, SearchOptions
from aiayn.errors import AiaynError
from aiayn.tasks import Classifies, DrawsAttention, Generates, Summarizes, Translates
from aiayn.tasks.seq2seq import TextToTextTask
from aiayn.web import Answer, AttentionView, serve

# An answer carries its attention only up to this many weights (L * H * Tq * Tk): every weight
# travels to the page as JSON.
MAX_ATTENTION_WEIGHTS = 400_000


def kind_of(run: Run) -> str:
    """The ServeBackend kind of `run` (aiayn.web.KINDS), or a one-line error."""
    task = run.task
    if isinstance(task, Summarizes):
        return "summarization"
    if isinstance(task, Translates):
        return "translation"
    if isinstance(task, Generates):
        return "generation"
    if isinstance(task, Classifies):
        return "classification"
    raise AiaynError(f"{run.directory} is a {task.name!r} run, which `aiayn serve` cannot serve")


def _small(view: AttentionView) -> AttentionView | None:
    size = view.n_layers * view.n_heads * len(view.query_tokens) * len(view.key_tokens)
    return view if size <= MAX_ATTENTION_WEIGHTS else None


class RunBackend:
    """`ServeBackend` of a loaded run (calls come one at a time: the server holds a lock)."""

    def __init__(self, run: Run, *, seed: int = 0) -> None:
        self.run = run
        self.kind = kind_of(run)
        self._seeds = itertools.count(seed)  # each generation request samples afresh
        self._written: list[int] = []  # the last generation's token ids, prompt first
        self._prompt = ""

    def _search(self, beam: int, alpha: float) -> SearchOptions:
        task = self.run.task
        base = task.search_options() if isinstance(task, TextToTextTask) else SearchOptions()
        return dataclasses.replace(base, beam_size=beam, alpha=alpha)

    def translate(self, text: str, *, beam: int, alpha: float) -> Answer:
        if self.kind not in ("translation", "summarization"):
            raise NotImplementedError(f"a {self.kind} run does not translate")
        options = self._search(beam, alpha)
        if isinstance(self.run.task, DrawsAttention):
            with torch.no_grad():
                output, views = attention_views(self.run, text, options=options, title=text[:60])
            return Answer(text=output, attention=_small(views[0]))
        output = self.run.task.translate(self.run.model, [text], options)[0]
        return Answer(text=output)

    def generate(
        self, prompt: str, *, max_new_tokens: int, temperature: float, top_k: int | None
    ) -> Iterator[str]:
        if self.kind != "generation":
            raise NotImplementedError(f"a {self.kind} run does not generate")
        options = SamplingOptions(
            max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k
        )
        self._written = []
        self._prompt = prompt
        return stream_text(self.run, prompt, options, seed=next(self._seeds), record=self._written)

    def generation_attention(self) -> AttentionView | None:
        if not self._written:  # nothing generated yet (only a generation run fills it)
            return None
        with torch.no_grad():
            view = written_view(self.run, self._written, title=self._prompt[:60])
        return _small(view)

    def classify(self, text: str) -> Answer:
        if self.kind != "classification":
            raise NotImplementedError(f"a {self.kind} run does not classify")
        task = self.run.task
        encoded = task.encode([text])
        if not encoded[0]:
            raise AiaynError("the sentence gives no tokens")
        probabilities = task.probabilities(self.run.model, encoded)[0].tolist()
        labels = task.labels()
        best = max(range(len(labels)), key=lambda i: probabilities[i])
        attention = None
        if isinstance(task, DrawsAttention):
            try:
                _, views = attention_views(self.run, text, title=text[:60])
                attention = _small(views[0])
            except ValueError:  # a Hugging Face classifier keeps no weights
                attention = None
        return Answer(
            text=labels[best],
            labels=labels,
            probabilities=[min(max(p, 0.0), 1.0) for p in probabilities],
            attention=attention,
        )


def serve_run(
    run: Run,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_input_chars: int = 2000,
    max_new_tokens: int = 256,
) -> None:
    """Serve the live page for `run` until interrupted (needs `pip install "aiayn[serve]"`)."""
    serve(
        RunBackend(run),
        host=host,
        port=port,
        title=f"aiayn: {run.task.name} run {run.directory.name}",
        max_input_chars=max_input_chars,
        max_new_tokens=max_new_tokens,
    )


__all__ = ["MAX_ATTENTION_WEIGHTS", "RunBackend", "kind_of", "serve_run"]
