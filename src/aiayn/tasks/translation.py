"""Translation with an encoder-decoder: Multi30k German-English, or any two aligned text files.

- `multi30k`: Multi30k task 1 (29,000 training pairs, val 1,014, test_2016_flickr 1,000), de->en by
  default, en->de with the option `direction=en-de`. The options `train_src`, `train_tgt`,
  `val_src`, ... replace a split by your own files.
- `translation`: the same task for any parallel corpus; `train_src`/`train_tgt` and
  `val_src`/`val_tgt` are required, `test_src`/`test_tgt` optional.

One BPE vocabulary is learned on both sides of the training split (section 5.1: "a shared
source-target vocabulary"), saved into the run directory as `tokenizer/` and loaded, not
retrained, whenever the run directory already holds one (resume, eval, translate).

Batches are `ParallelBatches` (aiayn.tasks.batches): token-budget batches cut anew every epoch.

Evaluation has two speeds. While training (after `prepare`), `evaluate(model, "val")` is cheap:
the validation loss and, when `eval_bleu_sentences` > 0, BLEU of greedy decodes of that many
validation sentences. For a trained run (after `load`: `aiayn eval`), it decodes the whole split
with beam search (`beam`, `alpha`) and reports sacreBLEU, chrF and their signatures.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from aiayn.config import TrainConfig
from aiayn.data import collate as pad_batch
from aiayn.data import token_budget_batches
from aiayn.data.parallel import ParallelCorpus, multi30k, read_parallel
from aiayn.decoding import SearchOptions, decode, greedy_decode
from aiayn.errors import AiaynError
from aiayn.evaluation.attention_viz import cross_attention_weights
from aiayn.evaluation.bleu import corpus_scores
from aiayn.tasks.base import Task
from aiayn.tasks.batches import Pair, ParallelBatches, make_batch, padded_length
from aiayn.tasks.capabilities import DrawsAttention, Translates
from aiayn.tokenizers import BOS_ID, EOS_ID, PAD_ID, BPETokenizer, load_tokenizer
from aiayn.tokenizers.base import META_FILE
from aiayn.training.device import device_of
from aiayn.training.loss import compute_loss

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test")
TOKENIZER_DIR = "tokenizer"
GREEDY = SearchOptions()


class TranslationTask(Task, Translates, DrawsAttention):
    """Translation of any parallel corpus given as aligned text files (one sentence a line)."""

    name: ClassVar[str] = "translation"
    arch: ClassVar[str] = "encoder-decoder"
    description: ClassVar[str] = "encoder-decoder translation of a parallel corpus (joint BPE)"
    default_preset: ClassVar[str] = "small"
    bos_id: ClassVar[int] = BOS_ID
    eos_id: ClassVar[int] = EOS_ID
    pad_id: ClassVar[int] = PAD_ID
    options: ClassVar[dict[str, Any]] = {
        **{f"{split}_{side}": None for split in SPLITS for side in ("src", "tgt")},
        "bpe_vocab_size": 8000,  # joint BPE vocabulary, both languages
        "min_frequency": 2,
        "max_positions": 256,  # the model's max_len; longer training pairs are skipped, counted
        "eval_bleu_sentences": 200,  # greedy BLEU on this many val sentences each eval (0: off)
        "beam": 4,
        "alpha": 0.6,
        "reference_sentences": 32,  # greedy decodes that prove a reloaded model is the same
    }
    # The paper's recipe (label smoothing 0.1, inverse-sqrt warmup, token-budget batches, Adam
    # 0.9/0.98) scaled to a small corpus and a CPU: a shorter warmup, a higher peak rate.
    default_train: ClassVar[dict[str, Any]] = {
        "batch_tokens": 2048,
        "lr_schedule": "inverse-sqrt",
        "lr": 1e-3,
        "warmup_steps": 1000,
        "label_smoothing": 0.1,
        "clip_grad_norm": 1.0,
        "max_steps": 100_000,
        "max_minutes": 90.0,
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
        self._texts: dict[str, ParallelCorpus] = {}

    # -- data -------------------------------------------------------------------------------
    def _files(self, split: str) -> tuple[str, str] | None:
        src, tgt = self.opts[f"{split}_src"], self.opts[f"{split}_tgt"]
        if (src is None) != (tgt is None):
            raise AiaynError(f"give both {split}_src and {split}_tgt, or neither")
        return None if src is None else (src, tgt)

    def _default_corpus(self, split: str) -> ParallelCorpus | None:
        """The corpus of a split whose files were not given (None: the split does not exist)."""
        if split == "test":
            return None
        raise AiaynError(
            f"task {self.name!r} needs the options {split}_src and {split}_tgt "
            f"(e.g. --set task.{split}_src=train.de --set task.{split}_tgt=train.en)"
        )

    def has_split(self, split: str) -> bool:
        return self._files(split) is not None or split != "test" or self.name == "multi30k"

    def corpus(self, split: str) -> ParallelCorpus:
        """The raw sentence pairs of `split` ("train", "val" or "test")."""
        if split not in SPLITS:
            raise AiaynError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        if split not in self._texts:
            files = self._files(split)
            corpus = read_parallel(*files) if files else self._default_corpus(split)
            if corpus is None:
                raise AiaynError(f"this run has no {split} split (options {split}_src/_tgt)")
            if corpus.skipped:
                log.warning("%s: skipped %d pairs with an empty side", split, corpus.skipped)
            if not len(corpus):
                raise AiaynError(f"the {split} split has no sentence pairs")
            self._texts[split] = corpus
        return self._texts[split]

    def pairs(self, split: str) -> list[Pair]:
        """Token ids of `split`; training pairs longer than the model's positions are dropped."""
        if split not in self._pairs:
            tok = self._require_tokenizer()
            corpus = self.corpus(split)
            pairs = list(
                zip(tok.encode_batch(corpus.src), tok.encode_batch(corpus.tgt), strict=True)
            )
            if split == "train":
                limit = self.opts["max_positions"]
                kept = [p for p in pairs if padded_length(p) <= limit]
                if len(kept) < len(pairs):
                    log.warning(
                        "train: skipped %d pairs longer than %d", len(pairs) - len(kept), limit
                    )
                pairs = kept
            self._pairs[split] = pairs
        return self._pairs[split]

    # -- set-up -----------------------------------------------------------------------------
    def prepare(self, run_dir: Path, train_config: TrainConfig) -> dict[str, Any]:
        directory = Path(run_dir) / TOKENIZER_DIR
        if (directory / META_FILE).is_file():
            self._set_tokenizer(load_tokenizer(directory))
        else:
            train = self.corpus("train")
            tok = BPETokenizer.train(
                [*train.src, *train.tgt],
                vocab_size=self.opts["bpe_vocab_size"],
                min_frequency=self.opts["min_frequency"],
                length=2 * len(train),
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
            raise AiaynError(f"a translation run needs a BPE tokenizer, found {tok.kind!r}")
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
        """Subword ids of a source sentence, ending with <eos> as in training; [] if empty."""
        ids = self._require_tokenizer().encode(text)
        return [*ids, EOS_ID] if ids else []

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

    def search_options(self) -> SearchOptions:
        """How the run's evaluation decodes: the task's beam size and length penalty."""
        return SearchOptions(beam_size=self.opts["beam"], alpha=self.opts["alpha"])

    def scores(
        self, model: nn.Module, split: str, options: SearchOptions, *, limit: int | None = None
    ) -> dict[str, Any]:
        """sacreBLEU and chrF (with signatures) of decoding the first `limit` sources of `split`."""
        corpus = self.corpus(split)
        n = len(corpus) if limit is None else min(limit, len(corpus))
        hyps = self.translate(model, corpus.src[:n], options)
        return corpus_scores(hyps, corpus.tgt[:n]).to_dict()

    def evaluate(self, model: nn.Module, split: str = "val") -> dict[str, Any]:
        loss, accuracy = self.loss(model, split)
        out: dict[str, Any] = {f"{split}_loss": loss, f"{split}_token_accuracy": accuracy}
        if self._training:
            n = self.opts["eval_bleu_sentences"]
            # Not before `train_source`: an untrained model's decodes run to the length limit,
            # the slowest and least informative BLEU there is (run.py's baseline evaluation).
            if n and split == "val" and self._source_made:
                s = self.scores(model, split, GREEDY, limit=n)
                out[f"{split}_bleu_greedy_first{s['n_sentences']}"] = s["bleu"]
            # Wall-clock since `prepare` (training and evaluations), for time-to-BLEU figures.
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
        """Loss and BLEU/chrF (with signatures) on val and test, greedy and beam."""
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

    def proofs(self, s: dict[str, Any]) -> list[str]:
        lines = [
            f"1. held-out loss {s['val_loss']:.3f} per token vs {s['untrained_val_loss']:.3f} "
            "untrained"
        ]
        for split in ("val", "test"):
            if f"{split}_beam" not in s:
                continue
            g, b = s[f"{split}_greedy"], s[f"{split}_beam"]
            lines.append(
                f"{len(lines) + 1}. {split}: sacreBLEU {b['bleu']:.2f} beam {s['beam']} "
                f"(alpha {s['alpha']}), {g['bleu']:.2f} greedy; chrF {b['chrf']:.2f}; "
                f"tokenised lowercase BLEU {b['bleu_lc_tok']:.2f} [{b['bleu_signature']}]"
            )
        return lines

    def reference_outputs(self, model: nn.Module) -> list[list[int]]:
        """Greedy decodes (token ids) of the first validation sources."""
        sources = [s for s, _ in self.pairs("val")[: self.opts["reference_sentences"]]]
        src = pad_batch([[*s, EOS_ID] for s in sources], PAD_ID).to(device_of(model))
        return greedy_decode(model, src, bos_id=BOS_ID, eos_id=EOS_ID)

    def attention_map(
        self, model: nn.Module, sentence: str, *, layer: int = -1, options: SearchOptions = GREEDY
    ) -> tuple[Tensor, list[str], list[str], str]:
        """Translate `sentence` and return the cross-attention of decoder layer `layer` on it.

        Returns (weights (H, T, S), source tokens (S), output tokens (T), the translation). Row t
        is the query that predicts output token t (the last one is <eos>).
        """
        tok = self._require_tokenizer()
        ids = self.encode_source(sentence)
        if not ids:
            raise AiaynError("the sentence is empty")
        device = device_of(model)
        src = torch.tensor([ids], device=device)  # (1, S)
        with torch.no_grad():
            hyp = decode(model, src, bos_id=BOS_ID, eos_id=EOS_ID, options=options)[0]
        # An output cut at the length limit has no <eos>: keep T = len(hyp) + 1 <= max_len.
        hyp = hyp[: model.config.max_len - 1]
        tgt = torch.tensor([[BOS_ID, *hyp]], device=device)  # (1, T)
        weights = cross_attention_weights(model, src, tgt, layer=layer)  # (H, T, S)
        src_tokens = [tok.id_to_token(i) for i in ids]
        tgt_tokens = [tok.id_to_token(i) for i in [*hyp, EOS_ID]]
        return weights, src_tokens, tgt_tokens, tok.decode(hyp)


class Multi30kTask(TranslationTask):
    """Multi30k task 1 (image captions, German-English), or your files for any split."""

    name: ClassVar[str] = "multi30k"
    description: ClassVar[str] = "Multi30k de->en (or en-de) translation, joint BPE, sacreBLEU"
    options: ClassVar[dict[str, Any]] = {"direction": "de-en", **TranslationTask.options}

    def _default_corpus(self, split: str) -> ParallelCorpus:
        return multi30k(split, self.opts["direction"], data_dir=self.data_dir)


__all__ = ["Multi30kTask", "TranslationTask"]
