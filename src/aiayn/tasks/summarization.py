"""Abstractive summarisation with the encoder-decoder: DialogSum, CNN/DailyMail, or your corpus.

- `summarization`: your own documents and summaries in JSON lines, CSV or TSV
  (`--set train_file=F --set val_file=G [--set test_file=H] --set source_field=document
  --set target_field=summary`); `target_field` may name several comma-separated reference fields
  (`summary1,summary2,summary3`): training reads the first, scoring all of them.
- `dialogsum`: DialogSum (Chen et al. 2021), 12,460 training dialogues, dev 500; the official test
  set (three references each) when a local copy is present.
- `cnn-dailymail`: CNN/DailyMail (Hermann et al. 2015; See et al. 2017's splits), articles and
  highlights. Too big to train on 2 CPU cores; see docs/summarization.md for a GPU recipe.

Long sources are cut by a fixed rule: the first `max_source_tokens - 1` subwords and <eos> are
kept (the beginning of a document carries most of its summary, the lead bias of news), and the
summary counts the sources cut. Training summaries longer than `max_target_tokens` are dropped,
counted. Scoring uses ROUGE-1/2/L/Lsum F with stemming (aiayn.evaluation.rouge) against the full
references; several references combine as the mean of their F-measures (`multi_ref`). Beam search
takes a length penalty, minimum and maximum output lengths and n-gram repeat blocking. Every
figure has extractive floors beside it, scored the same way (aiayn.evaluation.extractive).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

from aiayn.data.cnn_dailymail import cnn_dailymail
from aiayn.data.dialogsum import dialogsum, dialogsum_files
from aiayn.data.download import find_local
from aiayn.data.records import read_records
from aiayn.decoding import SearchOptions
from aiayn.errors import AiaynError
from aiayn.evaluation.extractive import lead_sentences, lead_utterances, longest_utterance
from aiayn.evaluation.rouge import rouge_scores
from aiayn.tasks.batches import Pair
from aiayn.tasks.capabilities import Summarizes
from aiayn.tasks.seq2seq import SPLITS, TextToTextTask
from aiayn.tokenizers import EOS_ID

log = logging.getLogger(__name__)

Examples = tuple[list[str], list[list[str]]]  # sources, references (one or more each)


class SummarizationTask(TextToTextTask, Summarizes):
    """Summaries of your own documents: JSON lines, CSV or TSV files with named fields."""

    name: ClassVar[str] = "summarization"
    description: ClassVar[str] = "encoder-decoder summarisation of your files (ROUGE)"
    metric: ClassVar[str] = "rouge_l"
    eval_option: ClassVar[str] = "eval_rouge_examples"
    options: ClassVar[dict[str, Any]] = {
        **{f"{split}_file": None for split in SPLITS},
        "source_field": "document",
        "target_field": "summary",  # or "summary1,summary2,...": several references
        **TextToTextTask.options,
        "max_positions": 512,
        "max_source_tokens": 400,  # longer sources keep their first 399 subwords and <eos>
        "max_target_tokens": 100,  # longer training summaries are dropped
        "min_len": 0,  # output length bounds of beam search, in subwords (EOS not counted)
        "max_len": 100,
        "no_repeat_ngram": 3,
        "whole_tokens": [],  # strings the BPE vocabulary keeps as one token each
        "multi_ref": "mean",  # several references: "mean" or "max" of the F-measures
        "eval_rouge_examples": 100,  # greedy ROUGE on this many val examples each eval (0: off)
    }
    default_train: ClassVar[dict[str, Any]] = {
        **TextToTextTask.default_train,
        "batch_tokens": 6000,
        "max_minutes": 60.0,
    }

    def __init__(self, options: dict[str, Any] | None = None, *, data_dir: Path | None = None):
        super().__init__(options, data_dir=data_dir)
        o = self.opts
        for key in ("max_positions", "max_source_tokens", "max_target_tokens", "max_len"):
            if isinstance(o[key], bool) or not isinstance(o[key], int) or o[key] < 2:
                raise AiaynError(f"task option {key} must be an integer >= 2, got {o[key]!r}")
        for key in ("max_source_tokens", "max_len"):
            if o[key] > o["max_positions"]:
                raise AiaynError(
                    f"task option {key}={o[key]} exceeds max_positions={o['max_positions']}"
                )
        if o["max_target_tokens"] >= o["max_positions"]:
            raise AiaynError("task option max_target_tokens must be below max_positions")
        if o["multi_ref"] not in ("mean", "max"):
            raise AiaynError(
                f"task option multi_ref must be 'mean' or 'max', got {o['multi_ref']!r}"
            )
        self.search_options()  # min_len, max_len and no_repeat_ngram checked now, not at the end
        self._examples: dict[str, Examples] = {}
        self.truncated: dict[str, int] = {}  # sources cut to max_source_tokens, per split

    # -- data -------------------------------------------------------------------------------
    def source_field(self) -> str:
        return str(self.opts["source_field"])

    def target_fields(self) -> list[str]:
        return [f.strip() for f in str(self.opts["target_field"]).split(",") if f.strip()]

    def has_split(self, split: str) -> bool:
        return split in ("train", "val") or self.opts["test_file"] is not None

    def load_examples(self, split: str) -> Examples:
        """(sources, references) of `split` read from its file."""
        path = self.opts[f"{split}_file"]
        if path is None:
            raise AiaynError(
                f"task {self.name!r} needs the option {split}_file (--set task.{split}_file=F)"
            )
        source, targets = self.opts["source_field"], self.target_fields()
        records = read_records(Path(path), fields=[source, *targets])
        if records.skipped:
            log.warning("%s: skipped %d records with an empty field", path, records.skipped)
        if not records.rows:
            raise AiaynError(f"{path} has no usable records")
        return [r[source] for r in records.rows], [[r[t] for t in targets] for r in records.rows]

    def examples(self, split: str) -> Examples:
        self._check_split(split)
        if split not in self._examples:
            self._examples[split] = self.load_examples(split)
        return self._examples[split]

    def fit_pairs(self, pairs: list[Pair], split: str) -> list[Pair]:
        """Sources cut to their first max_source_tokens - 1 subwords (counted); training
        summaries over max_target_tokens dropped; held-out ones cut to fit the positions (for
        the loss only: their ROUGE is scored against the full text)."""
        keep = self.opts["max_source_tokens"] - 1  # and <eos>
        self.truncated[split] = sum(len(s) > keep for s, _ in pairs)
        if self.truncated[split]:
            log.info("%s: %d sources cut to %d subwords", split, self.truncated[split], keep)
        pairs = [(s[:keep], t) for s, t in pairs]
        if split == "train":
            limit = self.opts["max_target_tokens"]
            kept = [p for p in pairs if len(p[1]) <= limit]
            if len(kept) < len(pairs):
                log.warning("train: dropped %d summaries over %d", len(pairs) - len(kept), limit)
            return kept
        return [(s, t[: self.opts["max_positions"] - 1]) for s, t in pairs]

    def encode_source(self, text: str) -> list[int]:
        """The source's subwords, cut by the task's rule, ending with <eos>; [] if empty."""
        ids = self._require_tokenizer().encode(text)[: self.opts["max_source_tokens"] - 1]
        return [*ids, EOS_ID] if ids else []

    # -- scoring ----------------------------------------------------------------------------
    def search_options(self) -> SearchOptions:
        o = self.opts
        return SearchOptions(
            beam_size=o["beam"],
            alpha=o["alpha"],
            min_len=o["min_len"],
            max_len=o["max_len"],
            no_repeat_ngram=o["no_repeat_ngram"],
        )

    def score(self, hypotheses: list[str], references: list[list[str]]) -> dict[str, Any]:
        """ROUGE-1/2/L/Lsum F x 100 with stemming; several references by `multi_ref`."""
        return rouge_scores(hypotheses, references, multi_ref=self.opts["multi_ref"]).to_dict()

    def baselines(self, split: str) -> dict[str, list[str]]:
        """Extractive summaries of each source, to score as floors: the first three
        sentences."""
        return {"lead-3": [lead_sentences(s, 3) for s in self.examples(split)[0]]}

    def summarize(
        self, model: Any, untrained: dict[str, float], final: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        summary = super().summarize(model, untrained, final)
        summary.update({"search": vars(self.search_options())})
        for split in ("val", "test"):
            if not self.has_split(split):
                continue
            references = self.examples(split)[1]
            summary[f"{split}_truncated_sources"] = self.truncated.get(split, 0)
            summary[f"{split}_baselines"] = {
                name: self.score(hyps, references) for name, hyps in self.baselines(split).items()
            }
        return summary

    def proofs(self, s: dict[str, Any]) -> list[str]:
        lines = [
            f"1. held-out loss {s['val_loss']:.3f} per token vs {s['untrained_val_loss']:.3f} "
            "untrained"
        ]
        for split in ("val", "test"):
            if f"{split}_beam" not in s:
                continue
            b = s[f"{split}_beam"]
            floors = ", ".join(
                f"{name} {f['rouge_1']:.2f}/{f['rouge_2']:.2f}/{f['rouge_l']:.2f}"
                for name, f in s[f"{split}_baselines"].items()
            )
            lines.append(
                f"{len(lines) + 1}. {split} ROUGE-1/2/L {b['rouge_1']:.2f}/{b['rouge_2']:.2f}/"
                f"{b['rouge_l']:.2f} (beam {s['beam']}) vs extractive {floors}"
            )
        return lines


class DialogSumTask(SummarizationTask):
    """DialogSum: a summary of an everyday dialogue, `#Person1#: ...` one turn a line."""

    name: ClassVar[str] = "dialogsum"
    description: ClassVar[str] = "DialogSum dialogue summarisation (ROUGE vs extractive floors)"
    options: ClassVar[dict[str, Any]] = {
        **SummarizationTask.options,
        "max_source_tokens": 400,
        "max_target_tokens": 80,
        "max_len": 60,
        # the speaker tags, one token each: summaries name the speakers by them
        "whole_tokens": [f"#Person{i}#" for i in range(1, 10)],
    }
    # Sized for an hour on 2 CPU cores (benchmarks/results/dialogsum.md): the learning rate
    # decays along a cosine over the hour itself (cosine_over="minutes"), not over a number of
    # steps, so it reaches its floor at the end of the budget however many steps the machine
    # fits in it (the same 2-core machine has managed 4,200 to 7,000 an hour). The paper's slow
    # 1/sqrt(step) still ran at half its peak after an hour.
    default_train: ClassVar[dict[str, Any]] = {
        **SummarizationTask.default_train,
        "lr_schedule": "cosine",
        "cosine_over": "minutes",
        "min_lr": 1e-5,
    }

    def has_split(self, split: str) -> bool:
        if split in ("train", "val"):
            return True
        local = find_local("dialogsum", dialogsum_files("test"), data_dir=self.data_dir)
        return self.opts["test_file"] is not None or local is not None

    def load_examples(self, split: str) -> Examples:
        if self.opts[f"{split}_file"] is not None:
            return super().load_examples(split)
        data = dialogsum(split, self.data_dir)
        return [e.dialogue for e in data], [list(e.summaries) for e in data]

    def baselines(self, split: str) -> dict[str, list[str]]:
        """The first two and three turns, and the longest turn, speaker tags kept."""
        sources = self.examples(split)[0]
        return {
            "lead-2 turns": [lead_utterances(s, 2) for s in sources],
            "lead-3 turns": [lead_utterances(s, 3) for s in sources],
            "longest turn": [longest_utterance(s) for s in sources],
        }


class CNNDailyMailTask(SummarizationTask):
    """CNN/DailyMail news: the article in, its highlights out (See et al. 2017 truncate sources
    to 400 tokens and train on summaries up to 100)."""

    name: ClassVar[str] = "cnn-dailymail"
    description: ClassVar[str] = "CNN/DailyMail news summarisation (a GPU task; ROUGE)"
    default_preset: ClassVar[str] = "paper-base"

    def has_split(self, split: str) -> bool:
        return True

    def load_examples(self, split: str) -> Examples:
        if self.opts[f"{split}_file"] is not None:
            return super().load_examples(split)
        pairs = cnn_dailymail(split, self.data_dir)
        return [a for a, _ in pairs], [[h] for _, h in pairs]


__all__ = ["CNNDailyMailTask", "DialogSumTask", "SummarizationTask"]
