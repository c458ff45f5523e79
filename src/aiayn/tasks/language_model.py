"""Language modelling on Shakespeare (or any plain-text file) with the decoder-only model.

- `shakespeare`: the complete works (about 5.0M characters). Validation and test are *whole works*
  held out (`split_works`), so no line of a held-out play was seen in training. With `--data FILE`
  (task option `data`) any UTF-8 text is used instead, cut into contiguous train / val / test
  stretches. Tokenizer `word` (default), `char` or `bpe`, trained on the training split only and
  saved with the run.
- `tinyshakespeare-char`: tiny Shakespeare, one token per character, first 90% train and last 10%
  validation, as nanoGPT's `shakespeare_char` (used by `benchmarks/shakespeare_vs_nanogpt.py`).

Training sequences are consecutive, non-overlapping blocks of `context` tokens (`lm_blocks`): an
epoch reads every training token once. Evaluation scores the held-out stream in the same blocks.
The summary compares the trained model's perplexity with two baselines on the same splits: the
untrained model, and a unigram model (add-one smoothed counts of the training split).

Notation: N tokens in a stream, L = context, V = vocabulary size.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from aiayn.config import TrainConfig
from aiayn.data import complete_works, lm_blocks, split_contiguous, split_works, tiny_shakespeare
from aiayn.data.files import read_text
from aiayn.decoding import SamplingOptions, generate
from aiayn.errors import AiaynError
from aiayn.evaluation.attention_viz import readable_piece
from aiayn.evaluation.metrics import perplexity
from aiayn.tasks.attention import LanguageModelAttention
from aiayn.tasks.base import Task
from aiayn.tasks.batches import FixedBatches
from aiayn.tasks.capabilities import Generates
from aiayn.tokenizers import (
    PAD_ID,
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    load_tokenizer,
)
from aiayn.training.device import device_of

TOKENIZERS: tuple[str, ...] = ("word", "char", "bpe")
CORPORA: tuple[str, ...] = ("complete-works", "tiny-shakespeare")
SPLITS: tuple[str, ...] = ("train", "val", "test")
# Fixed prompts whose greedy continuations prove that a reloaded model is the same model.
REFERENCE_PROMPTS: tuple[str, ...] = ("ROMEO:", "To be, or not to be", "The king", "\n")
EVAL_BATCH = 64  # blocks per forward pass when scoring a split


def unigram_log_probs(train_ids: Tensor, vocab_size: int) -> Tensor:
    """(V,) log-probabilities of an add-one smoothed unigram model of `train_ids` (N,):
    p(w) = (count(w) + 1) / (N + V), so a token never seen in training keeps a finite cost."""
    counts = torch.bincount(train_ids, minlength=vocab_size).double()
    return ((counts + 1.0) / (train_ids.numel() + vocab_size)).log()


def unigram_perplexity(log_probs: Tensor, ids: Tensor) -> float:
    """Perplexity of the token stream `ids` (N,) under unigram `log_probs` (V,)."""
    return perplexity(-log_probs[ids].sum().item(), ids.numel())


def _encode(tokenizer: Tokenizer, text: str) -> Tensor:
    """A whole text -> (N,) ids. BPE encodes line by line (the same tokens, done in parallel)."""
    if isinstance(tokenizer, BPETokenizer):
        pieces = tokenizer.encode_batch(text.splitlines(keepends=True))
        return torch.tensor([i for line in pieces for i in line], dtype=torch.long)
    return torch.tensor(tokenizer.encode(text), dtype=torch.long)


class ShakespeareTask(Task, Generates, LanguageModelAttention):
    """A decoder-only LM on the complete works, tiny Shakespeare, or a text file (`data`)."""

    name: ClassVar[str] = "shakespeare"
    arch: ClassVar[str] = "decoder-only"
    description: ClassVar[str] = (
        "decoder-only LM on the complete works of Shakespeare (or --data FILE); perplexity vs "
        "untrained and unigram baselines"
    )
    # The recipe of docs/shakespeare.md: about 9 epochs of the 1.65M training words, an hour
    # on two CPU cores in bf16, readable samples.
    default_preset: ClassVar[str] = "lm-medium"
    eos_id: ClassVar[int | None] = None  # a text stream has no end of sequence
    positive_options: ClassVar[frozenset[str]] = frozenset(
        {"context", "min_freq", "bpe_vocab_size"}
    )
    default_model: ClassVar[dict[str, Any]] = {
        # GPT-style: pre-norm trains without a long warmup; GELU and learned positions as GPT-2.
        "norm_first": True,
        "activation": "gelu",
        "positional": "learned",
    }
    default_train: ClassVar[dict[str, Any]] = {
        "batch_size": 32,
        "max_steps": 3600,
        "lr_schedule": "cosine",
        "lr": 1e-3,
        "min_lr": 1e-4,
        "warmup_steps": 200,
        "beta2": 0.99,
        "eps": 1e-8,
        "label_smoothing": 0.0,  # perplexity is the figure of merit; smoothing would inflate it
        "clip_grad_norm": 1.0,
        "eval_every": 600,
        "log_every": 50,
        "checkpoint_every": 600,
    }
    options: ClassVar[dict[str, Any]] = {
        "corpus": "complete-works",
        "data": None,  # a plain-text file instead of the corpus (the CLI's --data)
        "tokenizer": "word",
        "context": 128,  # block size L: tokens per training sequence
        "min_freq": 2,  # word / char: rarer pieces of the training split become <unk>
        "bpe_vocab_size": 8000,
        "val_fraction": 0.05,
        "test_fraction": 0.05,
        "split_seed": 0,  # which works are held out
        "n_works": None,  # use only the first n works (sorted by file name): quick runs, tests
    }

    def __init__(self, options: dict[str, Any] | None = None, *, data_dir: Path | None = None):
        super().__init__(options, data_dir=data_dir)
        o = self.opts
        if o["tokenizer"] not in TOKENIZERS:
            raise AiaynError(f"tokenizer must be one of {TOKENIZERS}, got {o['tokenizer']!r}")
        if o["corpus"] not in CORPORA:
            raise AiaynError(f"corpus must be one of {CORPORA}, got {o['corpus']!r}")
        for key in ("context", "min_freq", "bpe_vocab_size"):
            if isinstance(o[key], bool) or not isinstance(o[key], int) or o[key] < 1:
                raise AiaynError(f"{key} must be a positive integer, got {o[key]!r}")
        if not 0 <= o["val_fraction"] < 1 or not 0 <= o["test_fraction"] < 1:
            raise AiaynError(
                f"val_fraction and test_fraction must be in [0, 1), got {o['val_fraction']} "
                f"and {o['test_fraction']}"
            )
        if o["val_fraction"] + o["test_fraction"] >= 1:
            raise AiaynError("val_fraction + test_fraction must leave text for training (< 1)")
        if o["n_works"] is not None and (not isinstance(o["n_works"], int) or o["n_works"] < 1):
            raise AiaynError(f"n_works must be a positive integer or null, got {o['n_works']!r}")
        self.tokenizer: Tokenizer | None = None
        self._texts: dict[str, str] | None = None
        self._ids: dict[str, Tensor] = {}
        self._eval_blocks: int | None = None
        self._seed: int | None = None  # the training seed, known after prepare()

    # -- data -------------------------------------------------------------------------------
    def split_texts(self) -> dict[str, str]:
        """The raw text of each split, {"train", "val", "test"}; held-out parts never overlap."""
        if self._texts is not None:
            return self._texts
        o = self.opts
        if o["data"] is not None:
            path = Path(o["data"])
            if not path.is_file():
                raise AiaynError(f"data file {path} does not exist")
            text = read_text(path)  # an error names the file and line
            parts = split_contiguous(text, o["val_fraction"], o["test_fraction"])
        elif o["corpus"] == "tiny-shakespeare":
            text = tiny_shakespeare(self.data_dir)
            parts = split_contiguous(text, o["val_fraction"], o["test_fraction"])
        else:
            works = complete_works()
            if o["n_works"] is not None:
                works = works[: o["n_works"]]
            held = split_works(works, o["val_fraction"], o["test_fraction"], seed=o["split_seed"])
            # Works are joined by a blank line; each split is one stream of tokens.
            parts = tuple("\n\n".join(text for _, text in split) for split in held)
        self._texts = dict(zip(SPLITS, parts, strict=True))
        for split in ("train", "val"):
            if not self._texts[split]:
                raise AiaynError(f"the {split} split is empty: too little text or fraction 0")
        return self._texts

    def _train_tokenizer(self, train_text: str) -> Tokenizer:
        o = self.opts
        if o["tokenizer"] == "word":
            return WordTokenizer.train([train_text], min_freq=o["min_freq"])
        if o["tokenizer"] == "char":
            return CharTokenizer.train([train_text], min_freq=o["min_freq"])
        lines = train_text.splitlines(keepends=True)
        return BPETokenizer.train(lines, vocab_size=o["bpe_vocab_size"], length=len(lines))

    def _require_tokenizer(self) -> Tokenizer:
        if self.tokenizer is None:
            raise AiaynError("the task has no tokenizer yet: call prepare() or load() first")
        return self.tokenizer

    def split_ids(self, split: str) -> Tensor:
        """The (N,) token stream of a split (encoded once, then cached)."""
        self.check_split(split, SPLITS)
        if split not in self._ids:
            self._ids[split] = _encode(self._require_tokenizer(), self.split_texts()[split])
        return self._ids[split]

    def prepare(self, run_dir: Path, train_config: TrainConfig) -> dict[str, Any]:
        self.tokenizer = self._train_tokenizer(self.split_texts()["train"])
        self.tokenizer.save(Path(run_dir) / "tokenizer")
        self._seed = train_config.seed
        if train_config.eval_batches is not None:
            self._eval_blocks = train_config.eval_batches * self._batch_size(train_config)
        return {
            "vocab_size": self.tokenizer.vocab_size,
            "pad_id": PAD_ID,
            "max_len": self.opts["context"],
        }

    def load(self, run_dir: Path) -> None:
        self.tokenizer = load_tokenizer(Path(run_dir) / "tokenizer")

    def _batch_size(self, train_config: TrainConfig) -> int:
        return train_config.batch_size or max(1, train_config.batch_tokens // self.opts["context"])

    # -- training ---------------------------------------------------------------------------
    def train_source(self, train_config: TrainConfig) -> FixedBatches:
        """Batches of consecutive, non-overlapping training blocks, reshuffled every epoch."""
        inputs, targets = lm_blocks(self.split_ids("train"), self.opts["context"])  # (n, L) each
        size = self._batch_size(train_config)
        n = inputs.size(0)
        # Drop the last, partial batch: every step then sees the same number of tokens.
        batches = [list(range(i, i + size)) for i in range(0, n - size + 1, size)] or [
            list(range(n))
        ]

        def collate(idx: list[int]) -> dict[str, Tensor]:
            return {"inputs": inputs[idx], "targets": targets[idx]}

        return FixedBatches(batches, collate, seed=train_config.seed)

    def score(
        self, model: nn.Module, split: str, max_blocks: int | None = None
    ) -> tuple[float, int]:
        """(summed NLL in nats, number of predicted tokens) of `split`, read in blocks of L."""
        ids = self.split_ids(split)
        L = min(self.opts["context"], ids.numel() - 1)
        if L < 1:
            raise AiaynError(f"the {split} split has fewer than two tokens")
        inputs, targets = lm_blocks(ids, L)  # (n, L) each
        if max_blocks is not None:
            inputs, targets = inputs[:max_blocks], targets[:max_blocks]
        device = device_of(model)
        nll = 0.0
        with torch.no_grad():
            for i in range(0, inputs.size(0), EVAL_BATCH):
                x = inputs[i : i + EVAL_BATCH].to(device)
                y = targets[i : i + EVAL_BATCH].to(device)
                logits = model(x)  # (b, L, V)
                nll += nn.functional.cross_entropy(
                    logits.flatten(0, 1).float(), y.flatten(), reduction="sum"
                ).item()  # (b, L, V) -> (b*L, V)
        return nll, targets.numel()

    def evaluate(self, model: nn.Module, split: str = "val") -> dict[str, float]:
        nll, n = self.score(model, split, self._eval_blocks)
        return {f"{split}_loss": nll / n, f"{split}_perplexity": perplexity(nll, n)}

    # -- summary ----------------------------------------------------------------------------
    def _untrained_model(self, model: nn.Module) -> nn.Module:
        """The model as it was before training (`aiayn train` seeds with the training seed right
        before building it), rebuilt to score the test split too. The global RNG is restored."""
        state = torch.get_rng_state()
        torch.manual_seed(self._seed)
        fresh = self.build_model(model.config).to(device_of(model))
        torch.set_rng_state(state)
        return fresh.eval()

    def summarize(
        self, model: nn.Module, untrained: dict[str, float], final: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        vocab_size = model.config.vocab_size
        unigram = unigram_log_probs(self.split_ids("train"), vocab_size)
        # When training scored the whole validation split, its baseline (before step 1) and its
        # last evaluation (of these very weights) are the figures: no need to score them again.
        whole_val = self._eval_blocks is None
        final = final or {}
        self._eval_blocks = None  # the summary scores whole splits
        out: dict[str, Any] = {
            "tokenizer": self.opts["tokenizer"],
            "vocab_size": vocab_size,
            "context": self.opts["context"],
            "train_tokens": self.split_ids("train").numel(),
        }
        fresh = self._untrained_model(model) if self._seed is not None else None
        for split in ("val", "test"):
            if self.split_ids(split).numel() < 2:
                continue
            out[f"{split}_tokens"] = self.split_ids(split).numel()
            if split == "val" and whole_val and "val_loss" in final:
                out["val_loss"], out["val_perplexity"] = final["val_loss"], final["val_perplexity"]
            else:
                nll, n = self.score(model, split)
                out[f"{split}_loss"] = nll / n
                out[f"{split}_perplexity"] = perplexity(nll, n)
            out[f"unigram_{split}_perplexity"] = unigram_perplexity(unigram, self.split_ids(split))
            if split == "val" and whole_val and "perplexity" in untrained:
                out["untrained_val_perplexity"] = untrained["perplexity"]
            elif fresh is not None:
                u_nll, u_n = self.score(fresh, split)
                out[f"untrained_{split}_perplexity"] = perplexity(u_nll, u_n)
        return out

    def proofs(self, s: dict[str, Any]) -> list[str]:
        lines = []
        for split in ("val", "test"):
            if f"{split}_perplexity" not in s:
                continue
            untrained = s.get(f"untrained_{split}_perplexity", float("nan"))
            lines.append(
                f"{len(lines) + 1}. {split} perplexity {s[f'{split}_perplexity']:.2f} vs "
                f"{s[f'unigram_{split}_perplexity']:.2f} unigram and {untrained:.2f} untrained"
            )
        return lines

    def heal_prompt(self, text: str) -> tuple[str, list[int] | None]:
        """Word tokens: a prompt that ends between words ("ROMEO:") ends in a piece that the
        training text rarely has alone (there it is ":\n", or ": "). That last piece is taken
        off, and the first new token must be one that starts with it, so the model picks the
        piece it knows. Other prompts, and other tokenizers, are kept as they are."""
        tok = self.tokenizer
        if not isinstance(tok, WordTokenizer):
            return text, None
        pieces = tok.pieces(text)
        if len(pieces) < 2 or re.match(r"\w", pieces[-1]):  # nothing left, or ends in a word
            return text, None
        first = [i for i, piece in enumerate(tok.tokens) if piece.startswith(pieces[-1])]
        if not first:  # no known piece goes on from it: keep it (it may be <unk>)
            return text, None
        return "".join(pieces[:-1]), first

    def encode_prompt(self, text: str) -> list[int]:
        return self._require_tokenizer().encode(text)

    def decode_output(self, ids: list[int]) -> str:
        return self._require_tokenizer().decode(ids)

    def token_piece(self, token_id: int) -> str:
        return readable_piece(self._require_tokenizer().id_to_token(token_id))

    def reference_outputs(self, model: nn.Module) -> list[list[int]]:
        """Greedy continuations (32 tokens) of fixed prompts: deterministic."""
        device = device_of(model)
        greedy = SamplingOptions(max_new_tokens=32, temperature=0.0)
        outputs = []
        for prompt in REFERENCE_PROMPTS:
            ids = self.encode_prompt(prompt)[-model.config.max_len :] or [PAD_ID]
            tokens = torch.tensor([ids], device=device)
            outputs.append(generate(model, tokens, greedy)[0].tolist())
        return outputs


class TinyShakespeareCharTask(ShakespeareTask):
    """nanoGPT's `shakespeare_char`: tiny Shakespeare, characters, 90% train / 10% validation."""

    name: ClassVar[str] = "tinyshakespeare-char"
    description: ClassVar[str] = (
        "char-level LM on tiny Shakespeare, 90/10 split as nanoGPT (--data-dir with "
        "tinyshakespeare/input.txt)"
    )
    default_preset: ClassVar[str] = "lm-small"
    default_model: ClassVar[dict[str, Any]] = {**ShakespeareTask.default_model, "p_drop": 0.1}
    default_train: ClassVar[dict[str, Any]] = {
        **ShakespeareTask.default_train,
        "batch_size": 12,
        "max_steps": 2000,
        "warmup_steps": 100,
        "eval_every": 250,
        "checkpoint_every": 1000,
    }
    options: ClassVar[dict[str, Any]] = {
        **ShakespeareTask.options,
        "corpus": "tiny-shakespeare",
        "tokenizer": "char",
        "context": 64,
        "min_freq": 1,
        "val_fraction": 0.1,
        "test_fraction": 0.0,  # nanoGPT has no test split
    }
