"""Text classification: your own labelled sentences, from scratch or fine-tuned from a BERT.

    aiayn train classification --set train_file=train.csv --set val_file=dev.csv \
        --set text_field=text --set label_field=label [--init minilm | --init DIR [--backend hf]]

Files are JSON lines, CSV or TSV (aiayn.data.records), two or more classes. The label names are
those of the training file (sorted, numerically when they are all numbers) unless the option
`labels` lists them; they are kept in the run and printed by `aiayn classify`. Evaluation
reports accuracy, macro-F1 and each class's precision, recall and F1.

Three ways to train, one training loop: our EncoderClassifier from scratch with a BPE vocabulary
learned on the training sentences; our EncoderClassifier holding a pretrained BERT's weights
(`--init`, with its WordPiece tokenizer); or Hugging Face's BertForSequenceClassification
(`--backend hf`), wrapped so that our trainer, checkpoints and CLI drive it unchanged
(aiayn.tasks.pretrained). Batches are cut by token budget from length-sorted sentences.

Notation: B sentences in a batch, T the longest of them, C classes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from aiayn.config import ModelConfig, TrainConfig
from aiayn.data.batching import collate, token_budget_batches
from aiayn.data.records import read_records
from aiayn.errors import AiaynError
from aiayn.evaluation.attention_viz import readable_piece
from aiayn.evaluation.metrics import accuracy_f1, class_scores
from aiayn.tasks import pretrained
from aiayn.tasks.attention import ClassifierAttention
from aiayn.tasks.base import Task
from aiayn.tasks.batches import FixedBatches
from aiayn.tasks.capabilities import Classifies
from aiayn.tokenizers import BPETokenizer, load_tokenizer
from aiayn.training.device import device_of
from aiayn.training.loss import Batch, LossOutput, label_smoothed_cross_entropy

log = logging.getLogger(__name__)

EVAL_SENTENCES = 128  # sentences per evaluation batch
TRAIN_EVAL_LIMIT = 2000  # `evaluate(model, "train")` scores this many training sentences
N_REFERENCE = 32  # held-out sentences whose predictions prove a reloaded model identical
Example = tuple[list[int], int]  # token ids, class id


class ClassificationTask(Task, Classifies, ClassifierAttention):
    """Sentences and labels from your files; held-out accuracy picks the best checkpoint."""

    name: ClassVar[str] = "classification"
    arch: ClassVar[str] = "encoder-classifier"
    description: ClassVar[str] = (
        "text classification of your labelled files: from scratch, or --init minilm / DIR"
    )
    default_preset: ClassVar[str] = "cls-small"
    best_metric: ClassVar[str] = "val_accuracy"
    best_mode: ClassVar[str] = "max"
    never_targets: ClassVar[tuple[int, ...]] = ()  # the targets are labels, not tokens
    positive_options: ClassVar[frozenset[str]] = frozenset({"bpe_vocab_size"})
    options: ClassVar[dict[str, Any]] = {
        "train_file": None,
        "val_file": None,
        "test_file": None,
        "text_field": "text",
        "label_field": "label",
        "labels": None,  # the class names in id order; None: those of the training file
        "init": None,  # None (random), "minilm", or a Hugging Face BERT folder
        "backend": "aiayn",  # "aiayn" (our EncoderClassifier) or "hf" (transformers)
        "max_seq_len": 128,  # tokens per sentence, special tokens included; longer are cut
        "n_train": 0,  # use the first n training sentences (0: all)
        "n_dev": 0,  # use the first n held-out sentences (0: all)
        "bpe_vocab_size": 8000,  # the BPE vocabulary of a from-scratch run
        # training only: hide each token (not the first, [CLS] / <bos>) with this probability
        # from attention and pooling, as the word dropout of Iyyer et al. (2015)
        "word_dropout": 0.0,
        "data_dir": None,  # recorded from --data-dir, so `aiayn eval RUN` finds the data again
    }

    def __init__(self, options: dict[str, Any] | None = None, *, data_dir: Path | None = None):
        super().__init__(options, data_dir=data_dir)
        o = self.opts
        if self.data_dir is None and o["data_dir"] is not None:
            self.data_dir = Path(o["data_dir"])
        pretrained.check_backend(o["init"], o["backend"])
        for key in ("max_seq_len", "n_train", "n_dev", "bpe_vocab_size"):
            low = 2 if key == "max_seq_len" else 0
            if isinstance(o[key], bool) or not isinstance(o[key], int) or o[key] < low:
                raise AiaynError(f"task option {key} must be an integer >= {low}, got {o[key]!r}")
        if not isinstance(o["word_dropout"], int | float) or not 0 <= o["word_dropout"] < 1:
            raise AiaynError(f"task option word_dropout must be in [0, 1), got {o['word_dropout']}")
        if o.get("labels") is not None and (
            not isinstance(o["labels"], list) or len(set(map(str, o["labels"]))) < 2
        ):
            raise AiaynError(f"task option labels must list two or more names, got {o['labels']!r}")
        self._fresh = False  # set by `prepare`: a new run starts from the pretrained weights
        self._cache: dict[str, list[Example]] = {}
        self.run_dir: Path | None = None
        self.tokenizer: Any = None
        self.pad_id = 0

    # -- recipe: it depends on the init, so these are read from the instance ---------------
    @property
    def is_pretrained(self) -> bool:
        return self.opts["init"] is not None

    @property
    def default_train(self) -> dict[str, Any]:  # type: ignore[override]
        return dict(pretrained.FINE_TUNE if self.is_pretrained else pretrained.FROM_SCRATCH)

    @property
    def default_model(self) -> dict[str, Any]:  # type: ignore[override]
        return dict(pretrained.FINE_TUNE_MODEL) if self.is_pretrained else {"pooling": "mean"}

    # -- data ---------------------------------------------------------------------------------
    def held_out(self, split: str) -> str:
        """The split a name reads: "train", or "val" ("val"/"dev") or "test"."""
        self.check_split(split, ("train", "val", "dev", "test"))
        if split == "test" and self.opts["test_file"] is None:
            raise AiaynError("this run has no test split (task option test_file)")
        return "val" if split == "dev" else split

    def raw(self, split: str) -> list[tuple[str, str]]:
        """(text, label name) of `split` ("train", "val" or "test") from its file."""
        path = self.opts[f"{split}_file"]
        if path is None:
            raise AiaynError(f"task {self.name!r} needs --set task.{split}_file=FILE")
        text, label = self.opts["text_field"], self.opts["label_field"]
        return [(r[text], r[label]) for r in read_records(Path(path), fields=[text, label]).rows]

    def label_names(self) -> list[str]:
        """The class names, in id order (known once a run is prepared or loaded)."""
        if self.opts["labels"] is None:
            names = sorted({label for _, label in self.raw("train")})
            numeric = all(n.lstrip("-").isdigit() for n in names)
            self.opts["labels"] = sorted(names, key=int) if numeric else names
        if len(self.opts["labels"]) < 2:
            raise AiaynError(f"the training labels name one class only: {self.opts['labels']}")
        return [str(n) for n in self.opts["labels"]]

    def labels(self) -> list[str]:
        return self.label_names()

    def token_piece(self, token_id: int) -> str:
        return readable_piece(self.tokenizer.id_to_token(token_id))

    def _sentences(self, split: str) -> list[tuple[str, int]]:
        """(text, class id) of a split, limited by n_train / n_dev."""
        index = {name: i for i, name in enumerate(self.label_names())}
        rows = self.raw(split)
        unknown = sorted({label for _, label in rows} - set(index))
        if unknown:
            raise AiaynError(
                f"{split} labels {unknown[:5]} are not among the run's labels {list(index)}"
            )
        limit = self.opts["n_train"] if split == "train" else self.opts["n_dev"]
        data = [(text, index[label]) for text, label in rows]
        return data[:limit] if limit else data

    def encode(self, sentences: list[str]) -> list[list[int]]:
        """Token ids of each sentence, at most max_seq_len of them: [CLS] .. [SEP] for BERT,
        <bos> .. for ours."""
        if self.is_pretrained:
            return [e.ids for e in self.tokenizer.encode_batch(sentences)]
        n = self.opts["max_seq_len"]
        encoded = self.tokenizer.encode_batch(sentences, add_bos=True)
        cut = sum(len(ids) > n for ids in encoded)
        if cut:
            log.warning(
                "%d of %d sentences are longer than max_seq_len=%d tokens: each is cut to its "
                "first %d",
                cut,
                len(encoded),
                n,
                n,
            )
        return [ids[:n] for ids in encoded]

    def examples(self, split: str) -> list[Example]:
        split = self.held_out(split)
        if split not in self._cache:
            raw = self._sentences(split)
            ids = self.encode([s for s, _ in raw])
            self._cache[split] = [(i, label) for i, (_, label) in zip(ids, raw, strict=True)]
        return self._cache[split]

    def collate(self, examples: list[Example]) -> Batch:
        return {
            "tokens": collate([ids for ids, _ in examples], self.pad_id),  # (B, T)
            "labels": torch.tensor([label for _, label in examples], dtype=torch.long),  # (B,)
        }

    # -- set-up -------------------------------------------------------------------------------
    def prepare(self, run_dir: Path, train_config: TrainConfig) -> dict[str, Any]:
        self.run_dir = Path(run_dir)
        self._fresh = True
        if self.data_dir is not None:
            self.opts["data_dir"] = str(Path(self.data_dir).resolve())
        n_classes = len(self.label_names())  # fixed now, and saved with the task options
        if self.is_pretrained:
            fields = pretrained.copy_into_run(
                self.opts["init"], self.run_dir, n_classes=n_classes, backend=self.opts["backend"]
            )
            self.load(self.run_dir)
            return {**fields, "n_classes": n_classes}
        tok_dir = self.run_dir / "tokenizer"
        if not (tok_dir / "aiayn_tokenizer.json").is_file():  # a resumed run keeps its own
            texts = [s for s, _ in self._sentences("train")]
            BPETokenizer.train(
                texts, vocab_size=self.opts["bpe_vocab_size"], length=len(texts)
            ).save(tok_dir)
        self.load(self.run_dir)
        return {
            "vocab_size": self.tokenizer.vocab_size,
            "pad_id": self.tokenizer.pad_id,
            "n_classes": n_classes,
        }

    def load(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        if self.is_pretrained:
            self.tokenizer, self.pad_id = pretrained.wordpiece_tokenizer(
                self.run_dir, self.opts["max_seq_len"]
            )
        else:
            self.tokenizer = load_tokenizer(self.run_dir / "tokenizer")
            self.pad_id = self.tokenizer.pad_id

    def build_model(self, config: ModelConfig) -> nn.Module:
        return pretrained.build_classifier(
            config,
            init=self.opts["init"],
            backend=self.opts["backend"],
            run_dir=self.run_dir,
            fresh=self._fresh,
        )

    # -- training -----------------------------------------------------------------------------
    def train_source(self, train_config: TrainConfig) -> FixedBatches:
        """Token-budget batches cut once from length-sorted sentences; each epoch shuffles their
        order. (Cutting them anew every epoch, as translation's ParallelBatches does, was
        measured and was not better on SST-2: see docs/classification.md.)"""
        examples = self.examples("train")
        batches = token_budget_batches(
            [len(ids) for ids, _ in examples],
            max_tokens=train_config.batch_tokens,
            seed=train_config.seed,
            max_sentences=train_config.batch_size,
        )
        return FixedBatches(
            batches, lambda idx: self.collate([examples[i] for i in idx]), seed=train_config.seed
        )

    def loss_fn(self, train_config: TrainConfig) -> Any:
        """Cross-entropy of the (B, C) logits against the labels, summed over the batch."""
        epsilon, pad_id = train_config.label_smoothing, self.pad_id
        word_dropout = float(self.opts["word_dropout"])

        def classification_loss(model: nn.Module, batch: Batch) -> LossOutput:
            tokens, labels = batch["tokens"], batch["labels"]
            mask = tokens != pad_id  # (B, T), True = a real token
            if word_dropout > 0 and model.training:
                hidden = torch.rand(tokens.shape, device=tokens.device) < word_dropout
                hidden[:, 0] = False  # every sentence keeps its first token
                mask = mask & ~hidden
            logits = model(tokens, mask=mask)  # (B, T) -> (B, C)
            loss_sum, n = label_smoothed_cross_entropy(logits, labels, epsilon=epsilon)
            with torch.no_grad():
                n_correct = (logits.argmax(-1) == labels).sum()
                nll = loss_sum.detach()
                if epsilon > 0.0:
                    nll, _ = label_smoothed_cross_entropy(logits, labels)
            return LossOutput(loss_sum=loss_sum, n_targets=n, n_correct=n_correct, nll_sum=nll)

        return classification_loss

    # -- evaluation and use ------------------------------------------------------------------
    def probabilities(self, model: nn.Module, encoded: list[list[int]]) -> Tensor:
        """(N, C) class probabilities of N encoded sentences, batched by length, input order."""
        device = device_of(model)
        probs = torch.empty(len(encoded), model.config.n_classes)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), EVAL_SENTENCES):
            chunk = order[start : start + EVAL_SENTENCES]
            tokens = self.collate([(encoded[i], 0) for i in chunk])["tokens"].to(device)
            with torch.no_grad():
                logits = model(tokens, mask=tokens != self.pad_id)  # (B, C)
            probs[chunk] = logits.float().softmax(-1).cpu()
        return probs

    def score(self, probs: Tensor, labels: Tensor, prefix: str) -> dict[str, Any]:
        """Loss, accuracy, macro-F1 (and, for two classes, the F1 of the second) and each
        class's figures, keys prefixed with `prefix`."""
        n_classes = probs.size(1)
        nll = -probs[torch.arange(len(labels)), labels].clamp(min=1e-12).log().mean().item()
        scores = class_scores(probs.argmax(-1), labels, n_classes=n_classes)
        names = self.label_names()
        out = {
            f"{prefix}_loss": nll,
            f"{prefix}_accuracy": scores["accuracy"],
            f"{prefix}_macro_f1": scores["macro_f1"],
        }
        if n_classes == 2:
            out[f"{prefix}_f1"] = accuracy_f1(probs.argmax(-1), labels)["f1"]
        out[f"{prefix}_per_class"] = dict(zip(names, scores["per_class"], strict=True))
        return out

    def evaluate(self, model: nn.Module, split: str = "val") -> dict[str, Any]:
        """The figures of `score` on a held-out split ("val"/"dev", "test") or on the first
        TRAIN_EVAL_LIMIT training sentences ("train")."""
        examples = self.examples(split)
        if self.held_out(split) == "train":
            examples = examples[:TRAIN_EVAL_LIMIT]
        labels = torch.tensor([label for _, label in examples])
        return self.score(self.probabilities(model, [ids for ids, _ in examples]), labels, split)

    def classify(self, model: nn.Module, lines: list[str]) -> list[tuple[str, float]]:
        """The most probable label and its probability for each line."""
        if not lines:
            return []
        names = self.label_names()
        probs = self.probabilities(model, self.encode(lines))
        best = probs.argmax(-1)
        return [(names[int(c)], float(p[c])) for c, p in zip(best, probs, strict=True)]

    def reference_outputs(self, model: nn.Module) -> list[tuple[str, float]]:
        """Labels and probabilities (4 decimals) of the first held-out sentences."""
        sentences = [s for s, _ in self._sentences("val")[:N_REFERENCE]]
        return [(label, round(p, 4)) for label, p in self.classify(model, sentences)]

    def summarize(
        self, model: nn.Module, untrained: dict[str, float], final: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        # The trainer's last evaluation scored these very weights on "val": reuse it.
        scores = final if final and "val_accuracy" in final else self.evaluate(model, "val")
        dev = {k.replace("val_", "dev_", 1): v for k, v in scores.items() if k.startswith("val_")}
        return {
            "init": self.opts["init"],
            "backend": self.opts["backend"],
            "labels": self.label_names(),
            "train_sentences": len(self.examples("train")),
            "dev_sentences": len(self.examples("val")),
            **dev,
            "untrained_dev_accuracy": untrained["accuracy"],
            "untrained_dev_loss": untrained["loss"],
        }

    def proofs(self, s: dict[str, Any]) -> list[str]:
        start = f"{s['init']} ({s['backend']})" if s["init"] else "random init"
        return [
            f"1. dev accuracy {s['dev_accuracy']:.2%} (macro-F1 {s['dev_macro_f1']:.4f}) from "
            f"{start}, vs {s['untrained_dev_accuracy']:.2%} before training",
            f"2. dev loss {s['dev_loss']:.4f} vs {s['untrained_dev_loss']:.4f} before training",
        ]


__all__ = ["ClassificationTask"]
