"""Translation with an encoder-decoder: Multi30k German-English, or any two aligned text files.

- `multi30k`: Multi30k task 1 (29,000 training pairs, val 1,014, test_2016_flickr 1,000), de->en by
  default, en->de with the option `direction=en-de`. The options `train_src`, `train_tgt`,
  `val_src`, ... replace a split by your own files.
- `translation`: the same task for any parallel corpus; `train_src`/`train_tgt` and
  `val_src`/`val_tgt` are required, `test_src`/`test_tgt` optional.

The shared vocabulary, batching, decoding and evaluation are aiayn.tasks.seq2seq's; outputs are
scored with sacreBLEU and chrF, with their signatures (aiayn.evaluation.bleu).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

from aiayn.data.parallel import ParallelCorpus, multi30k, read_parallel
from aiayn.errors import AiaynError
from aiayn.evaluation.bleu import corpus_scores
from aiayn.tasks.seq2seq import SPLITS, TextToTextTask

log = logging.getLogger(__name__)


class TranslationTask(TextToTextTask):
    """Translation of any parallel corpus given as aligned text files (one sentence a line)."""

    name: ClassVar[str] = "translation"
    description: ClassVar[str] = "encoder-decoder translation of a parallel corpus (joint BPE)"
    metric: ClassVar[str] = "bleu"
    eval_option: ClassVar[str] = "eval_bleu_sentences"
    options: ClassVar[dict[str, Any]] = {
        **{f"{split}_{side}": None for split in SPLITS for side in ("src", "tgt")},
        **TextToTextTask.options,
        "eval_bleu_sentences": 200,  # greedy BLEU on this many val sentences each eval (0: off)
    }
    default_train: ClassVar[dict[str, Any]] = {
        **TextToTextTask.default_train,
        "batch_tokens": 2048,
        "max_minutes": 90.0,
    }

    def __init__(self, options: dict[str, Any] | None = None, *, data_dir: Path | None = None):
        super().__init__(options, data_dir=data_dir)
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
        self._check_split(split)
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

    def examples(self, split: str) -> tuple[list[str], list[list[str]]]:
        corpus = self.corpus(split)
        return corpus.src, [[t] for t in corpus.tgt]

    # -- scoring ----------------------------------------------------------------------------
    def score(self, hypotheses: list[str], references: list[list[str]]) -> dict[str, Any]:
        """sacreBLEU and chrF, with their signatures, against the one reference each."""
        return corpus_scores(hypotheses, [refs[0] for refs in references]).to_dict()

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


class Multi30kTask(TranslationTask):
    """Multi30k task 1 (image captions, German-English), or your files for any split."""

    name: ClassVar[str] = "multi30k"
    description: ClassVar[str] = "Multi30k de->en (or en-de) translation, joint BPE, sacreBLEU"
    options: ClassVar[dict[str, Any]] = {"direction": "de-en", **TranslationTask.options}

    def _default_corpus(self, split: str) -> ParallelCorpus:
        return multi30k(split, self.opts["direction"], data_dir=self.data_dir)


__all__ = ["Multi30kTask", "TranslationTask"]
