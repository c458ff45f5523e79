"""Synthetic tasks that prove a model learns, with no download.

- `copy` and `reverse` (encoder-decoder): output the source sequence, or the source reversed.
- `reverse-lm` (decoder-only): each example is BOS, a random sequence, SEP, the sequence reversed.
  A correct causal mask makes the first half unpredictable (chance, 1 / n_symbols: each symbol is
  random and the model cannot peek at it) and the second half perfectly predictable (it is a copy
  of what came before). A leaking mask shows up as first-half accuracy far above chance.

Symbols are written as their numbers, separated by spaces ("3 1 4 1 5").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from aiayn.config import TrainConfig
from aiayn.decoding import SamplingOptions, greedy_decode
from aiayn.errors import AiaynError
from aiayn.evaluation.metrics import sequence_exact_match
from aiayn.tasks.attention import LanguageModelAttention, Seq2SeqAttention
from aiayn.tasks.base import Task
from aiayn.tasks.batches import FixedBatches
from aiayn.tasks.capabilities import Generates, Translates, fit_source
from aiayn.training.device import device_of
from aiayn.training.distributed import EvalShard
from aiayn.training.loss import compute_loss, label_smoothed_cross_entropy

PAD, BOS, EOS, SEP = 0, 1, 2, 3
SPLITS: tuple[str, ...] = ("train", "val", "test")  # each drawn with its own seed
N_SPECIAL = 4
SPECIAL_NAMES = {PAD: "<pad>", BOS: "<bos>", EOS: "<eos>", SEP: "<sep>"}


class SymbolVocab:
    """Special tokens, then symbols "0", "1", ..., "n-1"."""

    def __init__(self, n_symbols: int) -> None:
        self.n_symbols = n_symbols
        self.vocab_size = N_SPECIAL + n_symbols
        self.pad_id, self.bos_id, self.eos_id, self.sep_id = PAD, BOS, EOS, SEP

    def encode(self, text: str) -> list[int]:
        ids = []
        for piece in text.split():
            # ASCII digits only: "²".isdigit() is True, but int("²") fails
            if not (piece.isascii() and piece.isdigit()) or int(piece) >= self.n_symbols:
                raise AiaynError(
                    f"unknown symbol {piece!r}: this model knows the symbols "
                    f"0..{self.n_symbols - 1}, written as numbers separated by spaces"
                )
            ids.append(N_SPECIAL + int(piece))
        return ids

    def decode(self, ids: list[int]) -> str:
        return " ".join(str(i - N_SPECIAL) for i in ids if i >= N_SPECIAL)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "vocab.json").write_text(
            json.dumps({"kind": "symbols", "n_symbols": self.n_symbols}) + "\n", encoding="utf-8"
        )


def random_sequences(
    n: int, *, n_symbols: int, min_len: int, max_len: int, seed: int
) -> list[list[int]]:
    """`n` sequences of symbol ids with lengths uniform in [min_len, max_len]."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)
    symbols = torch.randint(N_SPECIAL, N_SPECIAL + n_symbols, (n, max_len), generator=g)
    return [symbols[i, : lengths[i]].tolist() for i in range(n)]


def pad(seqs: list[list[int]], length: int | None = None) -> Tensor:
    """Right-pad id lists with PAD -> (B, T_max)."""
    length = length or max(len(s) for s in seqs)
    out = torch.full((len(seqs), length), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


class _ToyTask(Task):
    never_targets: ClassVar[tuple[int, ...]] = (PAD, BOS)
    positive_options: ClassVar[frozenset[str]] = frozenset(
        {"n_symbols", "min_seq_len", "max_seq_len", "seq_len", "n_train", "n_val"}
    )
    options: ClassVar[dict[str, Any]] = {
        "n_symbols": 10,
        "min_seq_len": 4,
        "max_seq_len": 12,
        "n_train": 20000,
        "n_val": 1000,
        "data_seed": 1234,
    }
    default_train: ClassVar[dict[str, Any]] = {
        "batch_size": 64,
        "max_steps": 1500,
        "lr_schedule": "cosine",
        "lr": 1e-3,
        "min_lr": 1e-4,
        "warmup_steps": 100,
        "label_smoothing": 0.0,
        "clip_grad_norm": 1.0,
        "eval_every": 250,
        "log_every": 50,
        "checkpoint_every": 500,
    }
    # Examples per evaluation batch. Under torchrun the batches are shared among the processes,
    # each evaluated whole by one of them, so the figures do not depend on the process count.
    eval_batch_size: int = 250

    def _make_vocab(self) -> None:
        n = self.opts["n_symbols"]
        if not isinstance(n, int) or n < 2:
            raise AiaynError(f"n_symbols must be an integer >= 2, got {n!r}")
        lo, hi = self._length_range()
        if not 1 <= lo <= hi:
            raise AiaynError(f"need 1 <= min_seq_len <= max_seq_len, got {lo}, {hi}")
        self.vocab = SymbolVocab(n)
        self.tokenizer = self.vocab

    def token_piece(self, token_id: int) -> str:
        """A symbol as its number, a special token by its name (<bos>, <sep>, ...)."""
        return SPECIAL_NAMES.get(token_id) or str(token_id - N_SPECIAL)

    def texts(self, split: str) -> list[str]:
        """The input sequences of `split` as typed (symbols separated by spaces)."""
        return [self.vocab.decode(seq) for seq in self._sequences(split)]

    def _length_range(self) -> tuple[int, int]:
        return self.opts["min_seq_len"], self.opts["max_seq_len"]

    def load(self, run_dir: Path) -> None:
        self._make_vocab()

    def prepare(self, run_dir: Path, train_config: TrainConfig) -> dict[str, Any]:
        self._make_vocab()
        self.vocab.save(Path(run_dir) / "tokenizer")
        return {
            "vocab_size": self.vocab.vocab_size,
            "pad_id": PAD,
            "max_len": self._model_max_len(),
        }

    def _model_max_len(self) -> int:
        raise NotImplementedError

    def _sequences(self, split: str) -> list[list[int]]:
        self.check_split(split, SPLITS)
        o = self.opts
        n, offset = (o["n_train"], 0) if split == "train" else (o["n_val"], 1 + (split == "test"))
        lo, hi = self._length_range()
        return random_sequences(
            n,
            n_symbols=o["n_symbols"],
            min_len=lo,
            max_len=hi,
            seed=o["data_seed"] * 10 + offset,
        )


class Seq2SeqToyTask(_ToyTask, Translates, Seq2SeqAttention):
    arch: ClassVar[str] = "encoder-decoder"
    default_preset: ClassVar[str] = "tiny"
    bos_id: ClassVar[int] = BOS
    eos_id: ClassVar[int] = EOS
    pad_id: ClassVar[int] = PAD

    def encode_source(self, text: str) -> list[int]:
        """Symbol ids of a source text; one longer than the model is cut to it, with a warning."""
        return fit_source(self.vocab.encode(text), self._model_max_len(), eos_id=EOS, text=text)

    def decode_target(self, ids: list[int]) -> str:
        return self.vocab.decode(ids)

    def target(self, seq: list[int]) -> list[int]:
        raise NotImplementedError

    def _model_max_len(self) -> int:
        # Decoding may run to the source length + 50 (section 6.1), plus BOS.
        return 2 * self.opts["max_seq_len"] + 52

    def collate(self, pairs: list[tuple[list[int], list[int]]]) -> dict[str, Tensor]:
        src = pad([s for s, _ in pairs])
        tgt_in = pad([[BOS, *t] for _, t in pairs])
        tgt_out = pad([[*t, EOS] for _, t in pairs])
        return {"src": src, "tgt_in": tgt_in, "tgt_out": tgt_out}

    def _pairs(self, split: str) -> list[tuple[list[int], list[int]]]:
        return [(s, self.target(s)) for s in self._sequences(split)]

    def train_source(self, train_config: TrainConfig) -> FixedBatches:
        pairs = self._pairs("train")
        size = train_config.batch_size or 64
        batches = [list(range(i, min(i + size, len(pairs)))) for i in range(0, len(pairs), size)]
        return FixedBatches(
            batches, lambda idx: self.collate([pairs[i] for i in idx]), seed=train_config.seed
        )

    def evaluate(self, model: nn.Module, split: str = "val") -> dict[str, float]:
        pairs = (
            self._pairs(split) if split != "train" else self._pairs("train")[: self.opts["n_val"]]
        )
        size = self.eval_batch_size
        starts = range(0, len(pairs), size)
        shard = EvalShard(len(starts), width=4, model=model)  # this process's batches
        for b in shard:
            chunk = pairs[starts[b] : starts[b] + size]
            batch = {k: v.to(device_of(model)) for k, v in self.collate(chunk).items()}
            out = compute_loss(model, batch, pad_id=PAD)
            hyps = greedy_decode(model, batch["src"], bos_id=BOS, eos_id=EOS)
            exact = round(sequence_exact_match(hyps, [t for _, t in chunk]) * len(chunk))
            shard.add(b, [out.nll_sum.item(), out.n_targets.item(), out.n_correct.item(), exact])
        nll, n, correct, exact = shard.totals()  # over all processes
        return {
            f"{split}_loss": nll / max(n, 1),
            f"{split}_token_accuracy": correct / max(n, 1),
            f"{split}_exact_match": exact / len(pairs),
        }

    def reference_outputs(self, model: nn.Module) -> list[list[int]]:
        """Greedy outputs on the first validation sources (to check a reloaded model)."""
        src = pad([s for s, _ in self._pairs("val")[:64]]).to(device_of(model))
        return greedy_decode(model, src, bos_id=BOS, eos_id=EOS)

    def summarize(
        self, model: nn.Module, untrained: dict[str, float], final: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        val = self.evaluate(model, "val")
        train = self.evaluate(model, "train")
        return {
            "exact_match": val["val_exact_match"],
            "val_loss": val["val_loss"],
            "val_token_accuracy": val["val_token_accuracy"],
            "train_loss": train["train_loss"],
            "untrained_val_loss": untrained["loss"],
            "untrained_exact_match": untrained["exact_match"],
            "untrained_token_accuracy": untrained["token_accuracy"],
        }

    def proofs(self, s: dict[str, Any]) -> list[str]:
        return [
            f"1. loss on the training set: {s['train_loss']:.4f} (near zero: it fits the data)",
            f"2. held-out loss {s['val_loss']:.4f} vs {s['untrained_val_loss']:.4f} untrained; "
            f"exact match {s['exact_match']:.1%} vs {s['untrained_exact_match']:.1%} untrained",
        ]


class CopyTask(Seq2SeqToyTask):
    name: ClassVar[str] = "copy"
    description: ClassVar[str] = "encoder-decoder copies a random symbol sequence"

    def target(self, seq: list[int]) -> list[int]:
        return list(seq)


class ReverseTask(Seq2SeqToyTask):
    name: ClassVar[str] = "reverse"
    description: ClassVar[str] = "encoder-decoder reverses a random symbol sequence"

    def target(self, seq: list[int]) -> list[int]:
        return seq[::-1]


class ReverseLMTask(_ToyTask, Generates, LanguageModelAttention):
    """BOS x_1..x_L SEP x_L..x_1 with a decoder-only model: the mask check."""

    name: ClassVar[str] = "reverse-lm"
    arch: ClassVar[str] = "decoder-only"
    description: ClassVar[str] = "decoder-only LM: a random sequence, SEP, then it reversed"
    default_preset: ClassVar[str] = "lm-tiny"
    eos_id: ClassVar[int | None] = None  # an example always has 2L + 2 tokens
    options: ClassVar[dict[str, Any]] = {
        "n_symbols": 10,
        "seq_len": 8,
        "n_train": 20000,
        "n_val": 1000,
        "data_seed": 1234,
    }

    def _length_range(self) -> tuple[int, int]:
        return self.opts["seq_len"], self.opts["seq_len"]

    def _model_max_len(self) -> int:
        return 2 * self.opts["seq_len"] + 2  # BOS, x, SEP, reversed x

    def _examples(self, split: str) -> Tensor:
        """(N, 2L + 2) full sequences BOS x SEP reversed(x)."""
        seqs = self._sequences(split)
        return torch.tensor([[BOS, *s, SEP, *s[::-1]] for s in seqs], dtype=torch.long)

    def train_source(self, train_config: TrainConfig) -> FixedBatches:
        data = self._examples("train")
        size = train_config.batch_size or 64
        batches = [list(range(i, min(i + size, len(data)))) for i in range(0, len(data), size)]

        def collate(idx: list[int]) -> dict[str, Tensor]:
            seq = data[idx]
            return {"inputs": seq[:, :-1], "targets": seq[:, 1:]}

        return FixedBatches(batches, collate, seed=train_config.seed)

    def per_position_accuracy(self, model: nn.Module, split: str = "val") -> tuple[Tensor, float]:
        """(accuracy at each of the 2L + 1 target positions, mean NLL per token) on `split`."""
        data = self._examples(split)  # (N, 2L+2)
        positions = data.size(1) - 1
        size = self.eval_batch_size
        starts = range(0, len(data), size)
        shard = EvalShard(len(starts), width=2 + positions, model=model)
        for b in shard:
            chunk = data[starts[b] : starts[b] + size].to(device_of(model))
            inputs, targets = chunk[:, :-1], chunk[:, 1:]  # (B, 2L+1) each
            logits = model(inputs)  # (B, 2L+1, V)
            nll, n = label_smoothed_cross_entropy(
                logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=PAD
            )
            correct = (logits.argmax(-1) == targets).sum(0)  # (2L+1,)
            shard.add(b, [nll.item(), n.item(), *correct.tolist()])
        nll_sum, n_total, *correct_sums = shard.totals()  # over all processes
        acc = torch.tensor(correct_sums, dtype=torch.float64) / len(data)
        return acc, nll_sum / max(n_total, 1.0)

    def evaluate(self, model: nn.Module, split: str = "val") -> dict[str, float]:
        L = self.opts["seq_len"]
        acc, loss = self.per_position_accuracy(model, split)
        return {
            f"{split}_loss": loss,
            f"{split}_first_half_accuracy": acc[:L].mean().item(),
            f"{split}_second_half_accuracy": acc[L + 1 :].mean().item(),
        }

    def encode_prompt(self, text: str) -> list[int]:
        return self.vocab.encode(text)

    def decode_output(self, ids: list[int]) -> str:
        return self.vocab.decode(ids)

    def reference_outputs(self, model: nn.Module) -> list[list[int]]:
        from aiayn.decoding import generate

        L = self.opts["seq_len"]
        prompts = self._examples("val")[:64, : L + 2].to(device_of(model))  # BOS x SEP
        return generate(model, prompts, SamplingOptions(max_new_tokens=L, temperature=0.0)).tolist()

    def summarize(
        self, model: nn.Module, untrained: dict[str, float], final: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        L = self.opts["seq_len"]
        acc, loss = self.per_position_accuracy(model, "val")
        _, train_loss = self.per_position_accuracy(model, "train")
        return {
            "first_half_accuracy": acc[:L].mean().item(),
            "second_half_accuracy": acc[L + 1 :].mean().item(),
            "chance_accuracy": 1.0 / self.opts["n_symbols"],
            "per_position_accuracy": [round(a, 4) for a in acc.tolist()],
            "val_loss": loss,
            "train_loss": train_loss,
            "untrained_val_loss": untrained["loss"],
        }

    def plots(self, run_dir: Path, summary: dict[str, Any]) -> None:
        from aiayn.evaluation.plots import plot_per_position_accuracy

        plot_per_position_accuracy(
            summary["per_position_accuracy"],
            Path(run_dir) / "per_position_accuracy.png",
            title="reverse-lm: accuracy per target position (first half | SEP | second half)",
            split_at=self.opts["seq_len"],
        )

    def proofs(self, s: dict[str, Any]) -> list[str]:
        return [
            f"mask check: first half {s['first_half_accuracy']:.1%} (chance "
            f"{s['chance_accuracy']:.1%}), second half {s['second_half_accuracy']:.1%}",
            f"held-out loss {s['val_loss']:.4f} vs {s['untrained_val_loss']:.4f} untrained",
        ]
