"""Text in, text out, with the paper's encoder-decoder: what translation and summarisation share.

One BPE vocabulary is learned on both sides of the training split (section 5.1: "a shared
source-target vocabulary"), saved into the run directory as `tokenizer/` and loaded, not
retrained, whenever the run directory already holds one (resume, eval, translate, summarize).
Sources end with <eos>; targets are framed by <bos> / <eos> in the batches (aiayn.tasks.batches).

A subclass says where its examples come from (`examples`), how outputs are scored (`score`,
whose `metric` is the headline figure), and which splits exist. Evaluation has two speeds. While
training (after `prepare`), `evaluate(model, "val")` is cheap: the validation loss and the metric
of greedy decodes of the first few validation examples. For a trained run (after `load`: `aiayn
eval`), it decodes the whole split with the task's search options and reports every figure.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from aiayn.config import TrainConfig
from aiayn.data import collate, token_budget_batches
from aiayn.decoding import SearchOptions, greedy_decode
from aiayn.errors import AiaynError
from aiayn.evaluation.attention_viz import readable_piece
from aiayn.tasks.attention import Seq2SeqAttention
from aiayn.tasks.base import Task
from aiayn.tasks.batches import Pair, ParallelBatches, make_batch, padded_length
from aiayn.tasks.capabilities import Translates, fit_source
from aiayn.tokenizers import BOS_ID, EOS_ID, PAD_ID, BPETokenizer, load_tokenizer
from aiayn.tokenizers.base import META_FILE
from aiayn.training.device import device_of
from aiayn.training.loss import compute_loss

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test")
TOKENIZER_DIR = "tokenizer"
GREEDY = SearchOptions()


class TextToTextTask(Task, Translates, Seq2SeqAttention):
    """The shared machinery of an encoder-decoder text task; subclasses supply the data and the
    metric."""

    arch: ClassVar[str] = "encoder-decoder"
    default_preset: ClassVar[str] = "small"
    bos_id: ClassVar[int] = BOS_ID
    eos_id: ClassVar[int] = EOS_ID
    pad_id: ClassVar[int] = PAD_ID
    metric: ClassVar[str]  # the key of `score` that training reports on validation decodes
    eval_option: ClassVar[str]  # the task option: how many validation examples it decodes
    positive_options: ClassVar[frozenset[str]] = frozenset(
        {"bpe_vocab_size", "min_frequency", "max_positions", "beam", "reference_sentences"}
    )
    options: ClassVar[dict[str, Any]] = {
        "bpe_vocab_size": 8000,  # joint BPE vocabulary, source and target
        "min_frequency": 2,
        "max_positions": 256,  # the model's max_len
        "beam": 4,
        "alpha": 0.6,
        "reference_sentences": 32,  # greedy decodes that prove a reloaded model is the same
    }
    # The paper's recipe (label smoothing 0.1, inverse-sqrt warmup, token-budget batches, Adam
    # 0.9/0.98) scaled to a small corpus and a CPU: a shorter warmup (800 steps, measured on
    # Multi30k), a higher peak rate, and clipping at 1.0. Subclasses set the batch and the budget.
    default_train: ClassVar[dict[str, Any]] = {
        "lr_schedule": "inverse-sqrt",
        "lr": 1e-3,
        "warmup_steps": 800,
        "label_smoothing": 0.1,
        "clip_grad_norm": 1.0,
        "max_steps": 100_000,
        "eval_every": 250,
        "log_every": 25,
        "checkpoint_every": 250,
        "keep_checkpoints": 5,
    }

    def __init__(self, options: dict[str, Any] | None = None, *, data_dir: Path | None = None):
        super().__init__(options, data_dir=data_dir)
        self.tokenizer: BPETokenizer | None = None
        self._training = False  # set by `prepare`: evaluation is the cheap kind
        self._started = time.perf_counter()
        self._source_made = False
        self._pairs: dict[str, list[Pair]] = {}

    # -- what a subclass supplies ----------------------------------------------------------
    def examples(self, split: str) -> tuple[list[str], list[list[str]]]:
        """(sources, references) of `split`: one or more reference texts per source; training
        and the loss use the first."""
        raise NotImplementedError

    def has_split(self, split: str) -> bool:
        raise NotImplementedError

    def score(self, hypotheses: list[str], references: list[list[str]]) -> dict[str, Any]:
        """The figures of some outputs against their references (`metric` among them)."""
        raise NotImplementedError

    def fit_pairs(self, pairs: list[Pair], split: str) -> list[Pair]:
        """Make encoded pairs fit the model (default: training pairs longer than the model's
        positions are dropped, and counted)."""
        if split != "train":
            return pairs
        limit = self.opts["max_positions"]
        kept = [p for p in pairs if padded_length(p) <= limit]
        if len(kept) < len(pairs):
            log.warning("train: skipped %d pairs longer than %d", len(pairs) - len(kept), limit)
        return kept

    def search_options(self) -> SearchOptions:
        """How the run's evaluation decodes: the task's beam size and length penalty."""
        return SearchOptions(beam_size=self.opts["beam"], alpha=self.opts["alpha"])

    # -- data -------------------------------------------------------------------------------
    def _check_split(self, split: str) -> None:
        self.check_split(split, SPLITS)
        if not self.has_split(split):
            raise AiaynError(f"task {self.name!r} has no {split} split here")

    def pairs(self, split: str) -> list[Pair]:
        """Token ids (source, first reference) of `split`, fitted to the model (`fit_pairs`)."""
        self._check_split(split)
        if split not in self._pairs:
            tok = self._require_tokenizer()
            sources, references = self.examples(split)
            targets = [refs[0] for refs in references]
            encoded = zip(tok.encode_batch(sources), tok.encode_batch(targets), strict=True)
            self._pairs[split] = self.fit_pairs(list(encoded), split)
        return self._pairs[split]

    # -- set-up -----------------------------------------------------------------------------
    def prepare(self, run_dir: Path, train_config: TrainConfig) -> dict[str, Any]:
        directory = Path(run_dir) / TOKENIZER_DIR
        if (directory / META_FILE).is_file():
            self._set_tokenizer(load_tokenizer(directory))
        else:
            sources, references = self.examples("train")
            texts = [*sources, *(refs[0] for refs in references)]
            tok = BPETokenizer.train(
                texts,
                vocab_size=self.opts["bpe_vocab_size"],
                min_frequency=self.opts["min_frequency"],
                length=len(texts),
                whole=self.opts.get("whole_tokens") or (),
            )
            tok.save(directory)
            self._set_tokenizer(tok)
        self._training = True
        self._started = time.perf_counter()
        return {
            "vocab_size": self.tokenizer.vocab_size,
            "pad_id": PAD_ID,
            "max_len": self.opts["max_positions"],
        }

    def load(self, run_dir: Path) -> None:
        directory = Path(run_dir) / TOKENIZER_DIR
        if not (directory / META_FILE).is_file():
            raise AiaynError(f"{run_dir} has no tokenizer ({directory}); was it trained?")
        self._set_tokenizer(load_tokenizer(directory))
        self._training = False

    def _set_tokenizer(self, tok: Any) -> None:
        if not isinstance(tok, BPETokenizer):
            raise AiaynError(f"a {self.name} run needs a BPE tokenizer, found {tok.kind!r}")
        self.tokenizer = tok
        self._pairs.clear()

    def _require_tokenizer(self) -> BPETokenizer:
        if self.tokenizer is None:
            raise AiaynError("the task has no tokenizer yet: call prepare() or load() first")
        return self.tokenizer

    def train_source(self, train_config: TrainConfig) -> ParallelBatches:
        self._source_made = True
        if train_config.batch_size is not None:
            # A fixed sentence count, still cut by length so that little of a batch is padding.
            return ParallelBatches(
                self.pairs("train"),
                max_tokens=10**9,
                seed=train_config.seed,
                max_sentences=train_config.batch_size,
            )
        return ParallelBatches(
            self.pairs("train"), max_tokens=train_config.batch_tokens, seed=train_config.seed
        )

    # -- Translates --------------------------------------------------------------------------
    def encode_source(self, text: str) -> list[int]:
        """Subword ids of a source text, ending with <eos> as in training; [] if empty. A text
        longer than the model (max_positions) is cut to it, with a warning."""
        ids = self._require_tokenizer().encode(text)
        if not ids:
            return []
        return fit_source([*ids, EOS_ID], self.opts["max_positions"], eos_id=EOS_ID, text=text)

    def decode_target(self, ids: list[int]) -> str:
        return self._require_tokenizer().decode(ids)

    # -- evaluation -------------------------------------------------------------------------
    def loss(self, model: nn.Module, split: str) -> tuple[float, float]:
        """(mean NLL per target token, token accuracy) on `split`, without label smoothing."""
        pairs = self.pairs(split)
        device = device_of(model)
        order = token_budget_batches(
            [padded_length(p) for p in pairs], max_tokens=8192, seed=0, shuffle=False
        )
        nll = correct = n = 0.0
        for idx in order:
            batch = {k: v.to(device) for k, v in make_batch([pairs[i] for i in idx]).items()}
            out = compute_loss(model, batch, pad_id=PAD_ID)
            nll += out.nll_sum.item()
            correct += out.n_correct.item()
            n += out.n_targets.item()
        return nll / max(n, 1.0), correct / max(n, 1.0)

    def scores(
        self, model: nn.Module, split: str, options: SearchOptions, *, limit: int | None = None
    ) -> dict[str, Any]:
        """The figures (`score`) of decoding the first `limit` sources of `split`."""
        self._check_split(split)
        sources, references = self.examples(split)
        n = len(sources) if limit is None else min(limit, len(sources))
        return self.score(self.translate(model, sources[:n], options), references[:n])

    def evaluate(self, model: nn.Module, split: str = "val") -> dict[str, Any]:
        loss, accuracy = self.loss(model, split)
        out: dict[str, Any] = {f"{split}_loss": loss, f"{split}_token_accuracy": accuracy}
        if self._training:
            n = self.opts[self.eval_option]
            # Not before `train_source`: an untrained model's decodes run to the length limit,
            # the slowest and least informative figure there is (the untrained baseline).
            if n and split == "val" and self._source_made:
                n = min(n, len(self.examples(split)[0]))
                s = self.scores(model, split, GREEDY, limit=n)
                out[f"{split}_{self.metric}_greedy_first{n}"] = s[self.metric]
            # Wall-clock since `prepare` (training and evaluations), for time-to-target figures.
            out["wall_seconds"] = round(time.perf_counter() - self._started, 1)
            return out
        s = self.scores(model, split, self.search_options())
        out.update({f"{split}_{k}": v for k, v in s.items()})
        out[f"{split}_beam"] = self.opts["beam"]
        out[f"{split}_alpha"] = self.opts["alpha"]
        return out

    def summarize(
        self, model: nn.Module, untrained: dict[str, float], final: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Loss and the figures of greedy and beam decoding on val and test."""
        summary: dict[str, Any] = {
            "vocab_size": self._require_tokenizer().vocab_size,
            "train_pairs": len(self.pairs("train")),
            "beam": self.opts["beam"],
            "alpha": self.opts["alpha"],
            "untrained_val_loss": untrained["loss"],
        }
        for split in ("val", "test"):
            if not self.has_split(split):
                continue
            summary[f"{split}_loss"], _ = self.loss(model, split)
            summary[f"{split}_greedy"] = self.scores(model, split, GREEDY)
            summary[f"{split}_beam"] = self.scores(model, split, self.search_options())
        return summary

    def reference_outputs(self, model: nn.Module) -> list[list[int]]:
        """Greedy decodes (token ids) of the first validation sources."""
        sources = [s for s, _ in self.pairs("val")[: self.opts["reference_sentences"]]]
        src = collate([[*s, EOS_ID] for s in sources], PAD_ID).to(device_of(model))
        return greedy_decode(model, src, bos_id=BOS_ID, eos_id=EOS_ID)

    def token_piece(self, token_id: int) -> str:
        """The subword of one id, as a heatmap labels it."""
        return readable_piece(self._require_tokenizer().id_to_token(token_id))


__all__ = ["GREEDY", "SPLITS", "TOKENIZER_DIR", "TextToTextTask"]
