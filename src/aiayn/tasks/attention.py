"""`DrawsAttention` for each architecture: what a task mixes in to show its model's attention.

A task inherits the mixin of its architecture and supplies `token_piece(id)`, the label of one
token id on a heatmap's axis (its tokenizer's piece):

- `Seq2SeqAttention` (encoder-decoder tasks: translation, summarisation, copy, reverse): the
  input is decoded (greedy unless told otherwise) and the attention is that of reading the
  source and the decoded output: encoder self-attention over the source, masked decoder
  self-attention over <bos> and the output, and encoder-decoder attention whose row t is the
  query that predicts output token t (the last predicts <eos>).
- `LanguageModelAttention` (decoder-only): the masked self-attention over the text itself.
- `ClassifierAttention` (encoder classifiers): the encoder's self-attention over the sentence,
  and the predicted label.

Notation: L layers, H heads, S source length, T target length.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from aiayn.decoding import SearchOptions, decode
from aiayn.errors import AiaynError
from aiayn.evaluation.attention_viz import AttentionMap, model_attention
from aiayn.tasks.capabilities import DrawsAttention
from aiayn.training.device import device_of

GREEDY = SearchOptions()


def _check_length(ids: list[int], model: nn.Module, what: str) -> None:
    if not ids:
        raise AiaynError(f"the {what} is empty: give some text")
    max_len = getattr(getattr(model, "config", None), "max_len", None)
    if isinstance(max_len, int) and len(ids) > max_len:
        raise AiaynError(
            f"the {what} has {len(ids)} tokens, more than the model's maximum {max_len}"
        )


class Seq2SeqAttention(DrawsAttention):
    """Attention of an encoder-decoder task (one that `Translates`)."""

    attention_kinds: ClassVar[tuple[str, ...]] = ("cross", "encoder", "decoder")

    def token_piece(self, token_id: int) -> str:
        raise NotImplementedError

    def attention(
        self, model: nn.Module, text: str, *, options: SearchOptions = GREEDY
    ) -> tuple[str, dict[str, AttentionMap]]:
        ids = self.encode_source(text)  # type: ignore[attr-defined]
        _check_length(ids, model, "source")
        device = device_of(model)
        src = torch.tensor([ids], device=device)  # (1, S)
        bos, eos = self.bos_id, self.eos_id  # type: ignore[attr-defined]
        with torch.no_grad():
            hyp = decode(model, src, bos_id=bos, eos_id=eos, options=options)[0]
        hyp = hyp[: model.config.max_len - 1]  # an output cut at the limit: T <= max_len
        tgt = torch.tensor([[bos, *hyp]], device=device)  # (1, T)
        weights = model_attention(model, src, tgt)
        source = [self.token_piece(i) for i in ids]
        target_in = [self.token_piece(i) for i in [bos, *hyp]]
        target_out = [self.token_piece(i) for i in [*hyp, eos]]
        maps = {
            "encoder": AttentionMap(weights["encoder"], source, source),
            "decoder": AttentionMap(weights["decoder"], target_in, target_in),
            "cross": AttentionMap(weights["cross"], target_out, source),
        }
        return self.decode_target(hyp), maps  # type: ignore[attr-defined]


class LanguageModelAttention(DrawsAttention):
    """Masked self-attention of a language-model task (one that `Generates`)."""

    attention_kinds: ClassVar[tuple[str, ...]] = ("decoder",)

    def token_piece(self, token_id: int) -> str:
        raise NotImplementedError

    def attention(
        self, model: nn.Module, text: str, *, options: SearchOptions = GREEDY
    ) -> tuple[str, dict[str, AttentionMap]]:
        ids = self.encode_prompt(text)  # type: ignore[attr-defined]
        _check_length(ids, model, "text")
        return "", {"decoder": self.attention_of_ids(model, ids)}

    def attention_of_ids(self, model: nn.Module, ids: list[int]) -> AttentionMap:
        """The masked self-attention (L, H, T, T) over token `ids`, or over their last max_len
        when there are more: the window the model saw when it wrote the last of them."""
        if not ids:
            raise AiaynError("the text is empty: give some text")
        ids = ids[-model.config.max_len :]
        tokens = torch.tensor([ids], device=device_of(model))  # (1, T)
        pieces = [self.token_piece(i) for i in ids]
        weights = model_attention(model, tokens)["decoder"]  # (L, H, T, T)
        return AttentionMap(weights, pieces, pieces)


class ClassifierAttention(DrawsAttention):
    """Encoder self-attention of a classification task (one that `Classifies`)."""

    attention_kinds: ClassVar[tuple[str, ...]] = ("encoder",)

    def token_piece(self, token_id: int) -> str:
        raise NotImplementedError

    def attention(
        self, model: nn.Module, text: str, *, options: SearchOptions = GREEDY
    ) -> tuple[str, dict[str, AttentionMap]]:
        if not text.strip():
            raise AiaynError("the sentence is empty: give some text")
        ids = self.encode([text])[0]  # type: ignore[attr-defined]
        _check_length(ids, model, "sentence")
        tokens = torch.tensor([ids], device=device_of(model))  # (1, T)
        weights = model_attention(model, tokens)["encoder"]  # (L, H, T, T)
        pieces = [self.token_piece(i) for i in ids]
        label, probability = self.classify(model, [text])[0]  # type: ignore[attr-defined]
        return f"{label} ({probability:.3f})", {"encoder": AttentionMap(weights, pieces, pieces)}


__all__ = ["ClassifierAttention", "LanguageModelAttention", "Seq2SeqAttention"]
