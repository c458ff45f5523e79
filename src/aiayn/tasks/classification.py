"""SST-2 sentiment classification: from scratch, or fine-tuned from a pretrained BERT.

Three ways to train, one training loop:
- `aiayn train sst2`: our EncoderClassifier, randomly initialised, with a BPE vocabulary learned on
  the SST-2 training sentences (the baseline).
- `aiayn train sst2 --init minilm`: our EncoderClassifier holding the weights of the packaged
  all-MiniLM-L6-v2 (a 6-layer BERT), loaded by aiayn.interop.hf_bert, with its WordPiece
  tokenizer (tokenizer.json, read by HF `tokenizers`).
- `aiayn train sst2 --init minilm --backend hf`: Hugging Face's BertForSequenceClassification
  from the same folder, wrapped so that our trainer, checkpoints and CLI drive it unchanged.

The last two need `pip install "aiayn[pretrained]"`. Batches are cut by token budget from
length-sorted sentences, so a batch is mostly real tokens, not padding.

Notation: B sentences in a batch, T the longest of them, C = 2 classes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from aiayn.config import ModelConfig, TrainConfig
from aiayn.errors import AiaynError
from aiayn.interop.hf_classifier import HFClassifier, transformers_module
from aiayn.tasks.base import Task
from aiayn.tasks.batches import FixedBatches
from aiayn.tasks.capabilities import Classifies
from aiayn.training.device import device_of
from aiayn.training.loss import Batch, LossOutput, label_smoothed_cross_entropy

LABELS: tuple[str, ...] = ("negative", "positive")
INITS: tuple[str | None, ...] = (None, "minilm")
BACKENDS: tuple[str, ...] = ("aiayn", "hf")
EVAL_SENTENCES = 128  # sentences per evaluation batch
TRAIN_EVAL_LIMIT = 2000  # `evaluate(model, "train")` scores this many training sentences
N_REFERENCE = 32  # dev sentences whose predictions prove a reloaded model identical

# ModelConfig fields that a BERT checkpoint fixes (the dropouts stay settings of the run).
_CHECKPOINT_FIELDS = (
    "vocab_size",
    "d_model",
    "n_heads",
    "d_ff",
    "n_layers",
    "max_len",
    "activation",
    "positional",
    "norm_first",
    "layer_norm_eps",
    "scale_embeddings",
    "embedding_norm",
    "type_vocab_size",
    "pad_id",
    "n_classes",
    "pooling",
    "pooler",
)
_BERT_HEAD = {"pooling": "cls", "pooler": True}
_ENCODER_FIELDS = tuple(k for k in _CHECKPOINT_FIELDS if k not in _BERT_HEAD)

_FINE_TUNE: dict[str, Any] = {
    "max_steps": 5700,  # about 5 epochs of SST-2 (58 sentences a batch on average)
    "batch_tokens": 1024,
    "batch_size": 64,  # at most this many sentences a batch (the many short phrases)
    "lr_schedule": "cosine",
    "lr": 5e-5,
    "min_lr": 0.0,
    "warmup_steps": 342,  # 6%
    "beta2": 0.999,
    "eps": 1e-8,
    "weight_decay": 0.01,  # BERT's
    "label_smoothing": 0.0,
    "clip_grad_norm": 1.0,
    "eval_every": 500,
    "log_every": 50,
    "checkpoint_every": 500,
    "keep_checkpoints": 5,  # for `aiayn average RUN --last 5`
}
_FROM_SCRATCH: dict[str, Any] = {
    **_FINE_TUNE,
    "max_steps": 3000,
    "batch_tokens": 2048,
    "lr": 5e-4,
    "warmup_steps": 300,
    "weight_decay": 0.0,
    "eval_every": 250,
    "keep_checkpoints": 2,
}


class SST2Task(Task, Classifies):
    """Binary sentiment of movie-review sentences (GLUE SST-2); dev accuracy picks the best."""

    name: ClassVar[str] = "sst2"
    arch: ClassVar[str] = "encoder-classifier"
    description: ClassVar[str] = (
        "sentiment classification (SST-2): from scratch, or --init minilm [--backend hf]"
    )
    default_preset: ClassVar[str] = "cls-small"
    best_metric: ClassVar[str] = "val_accuracy"
    best_mode: ClassVar[str] = "max"
    never_targets: ClassVar[tuple[int, ...]] = ()  # the targets are labels, not tokens
    options: ClassVar[dict[str, Any]] = {
        "init": None,  # None (random) or "minilm"
        "backend": "aiayn",  # "aiayn" (our EncoderClassifier) or "hf" (transformers)
        "max_seq_len": 64,  # tokens per sentence, special tokens included; longer are cut
        "n_train": 0,  # use the first n training sentences (0: all 67,349)
        "n_dev": 0,  # use the first n dev sentences (0: all 872)
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
        if o["init"] not in INITS:
            raise AiaynError(f"--init must be one of: minilm (or none), got {o['init']!r}")
        if o["backend"] not in BACKENDS:
            raise AiaynError(f"--backend must be one of {BACKENDS}, got {o['backend']!r}")
        if o["backend"] == "hf" and o["init"] is None:
            raise AiaynError("--backend hf fine-tunes a pretrained model: add --init minilm")
        for key in ("max_seq_len", "n_train", "n_dev", "bpe_vocab_size"):
            if not isinstance(o[key], int) or o[key] < (2 if key == "max_seq_len" else 0):
                raise AiaynError(f"task option {key} must be a non-negative integer, got {o[key]}")
        if not isinstance(o["word_dropout"], (int, float)) or not 0 <= o["word_dropout"] < 1:
            raise AiaynError(f"task option word_dropout must be in [0, 1), got {o['word_dropout']}")
        self._load_pretrained = False  # set by `prepare`: a new run starts from the checkpoint
        self._cache: dict[str, list[tuple[list[int], int]]] = {}
        self.run_dir: Path | None = None

    # -- recipe: it depends on the init, so these are read from the instance ---------------
    @property
    def pretrained(self) -> bool:
        return self.opts["init"] is not None

    @property
    def default_train(self) -> dict[str, Any]:  # type: ignore[override]
        return dict(_FINE_TUNE if self.pretrained else _FROM_SCRATCH)

    @property
    def default_model(self) -> dict[str, Any]:  # type: ignore[override]
        if self.pretrained:  # BERT's dropouts and head; our encoder may change the head
            return {"p_drop": 0.1, "p_drop_attn": 0.1, "p_drop_ff": 0.0, **_BERT_HEAD}
        return {"pooling": "mean"}

    # -- tokenizer and data ------------------------------------------------------------------
    def prepare(self, run_dir: Path, train_config: TrainConfig) -> dict[str, Any]:
        self.run_dir = Path(run_dir)
        self._load_pretrained = True
        if self.data_dir is not None:
            self.opts["data_dir"] = str(Path(self.data_dir).resolve())
        tok_dir = self.run_dir / "tokenizer"
        if self.pretrained:
            from aiayn.interop.hf_bert import bert_model_config, minilm_dir

            source = minilm_dir()
            if self.opts["backend"] == "hf":
                transformers_module()  # fail now, in one line, if it is not installed
            tok_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / "tokenizer.json", tok_dir / "tokenizer.json")
            shutil.copyfile(source / "config.json", self.run_dir / "bert_config.json")
            self.load(self.run_dir)
            hf_config = json.loads((source / "config.json").read_text(encoding="utf-8"))
            bert = bert_model_config(hf_config, n_classes=len(LABELS), pooler=True).to_dict()
            # HF's classifier has BERT's head built in; ours takes `pooling` and `pooler` from
            # --set (default: BERT's [CLS] and pooler), e.g. pooling=mean as MiniLM was trained.
            fixed = _CHECKPOINT_FIELDS if self.opts["backend"] == "hf" else _ENCODER_FIELDS
            return {k: bert[k] for k in fixed}
        if not (tok_dir / "aiayn_tokenizer.json").is_file():  # a resumed run keeps its own
            from aiayn.tokenizers import BPETokenizer

            texts = [s for s, _ in self._raw("train")]
            bpe = BPETokenizer.train(
                texts, vocab_size=self.opts["bpe_vocab_size"], length=len(texts)
            )
            bpe.save(tok_dir)
        self.load(self.run_dir)
        return {"vocab_size": self.tokenizer.vocab_size, "pad_id": self.tokenizer.pad_id}

    def load(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        tok_dir = self.run_dir / "tokenizer"
        if self.pretrained:
            from tokenizers import Tokenizer as HFTokenizer

            tok = HFTokenizer.from_file(str(tok_dir / "tokenizer.json"))
            tok.no_padding()  # the packaged file pads every sentence to 128; we pad per batch
            tok.enable_truncation(max_length=self.opts["max_seq_len"])  # keeps [CLS] .. [SEP]
            self.tokenizer = tok
            self.pad_id = tok.token_to_id("[PAD]")
        else:
            from aiayn.tokenizers import load_tokenizer

            self.tokenizer = load_tokenizer(tok_dir)
            self.pad_id = self.tokenizer.pad_id

    def encode(self, sentences: list[str]) -> list[list[int]]:
        """Token ids of each sentence, at most max_seq_len of them: [CLS] .. [SEP] for BERT,
        <bos> .. for ours."""
        if self.pretrained:
            return [e.ids for e in self.tokenizer.encode_batch(sentences)]
        n = self.opts["max_seq_len"]
        return [ids[:n] for ids in self.tokenizer.encode_batch(sentences, add_bos=True)]

    def _raw(self, split: str) -> list[tuple[str, int]]:
        from aiayn.data.sst2 import sst2

        data = sst2("train" if split == "train" else "dev", self.data_dir)
        limit = self.opts["n_train"] if split == "train" else self.opts["n_dev"]
        return data[:limit] if limit else data

    def _examples(self, split: str) -> list[tuple[list[int], int]]:
        """(ids, label) pairs of "train" or "dev" ("val" and "test" both name dev)."""
        split = "train" if split == "train" else "dev"
        if split not in self._cache:
            raw = self._raw(split)
            ids = self.encode([s for s, _ in raw])
            self._cache[split] = [(i, label) for i, (_, label) in zip(ids, raw, strict=True)]
        return self._cache[split]

    def collate(self, examples: list[tuple[list[int], int]]) -> Batch:
        from aiayn.data.batching import collate

        return {
            "tokens": collate([ids for ids, _ in examples], self.pad_id),  # (B, T)
            "labels": torch.tensor([label for _, label in examples], dtype=torch.long),  # (B,)
        }

    # -- model and training ------------------------------------------------------------------
    def build_model(self, config: ModelConfig) -> nn.Module:
        """Our EncoderClassifier or the wrapped HF model. During `prepare`d training of a new
        pretrained run the checkpoint's weights are loaded; for `load_run` the run's own
        weights are loaded afterwards, so the checkpoint is not read."""
        if self.opts["backend"] == "hf":
            return self._build_hf(config)
        from aiayn.models import EncoderClassifier

        model = EncoderClassifier(config)
        if self.pretrained and self._load_pretrained:
            from safetensors.torch import load_file

            from aiayn.interop.hf_bert import load_bert_weights, minilm_dir

            load_bert_weights(model, load_file(str(minilm_dir() / "model.safetensors")))
        return model

    def _build_hf(self, config: ModelConfig) -> HFClassifier:
        tf = transformers_module()
        if self.run_dir is None:
            raise AiaynError("the sst2 task builds an HF model only after prepare() or load()")
        dropouts = {
            "num_labels": config.n_classes,
            "hidden_dropout_prob": config.p_drop,
            "attention_probs_dropout_prob": config.p_drop_attn,
        }
        if self._load_pretrained:
            from aiayn.interop.hf_bert import minilm_dir

            hf = tf.AutoModelForSequenceClassification.from_pretrained(
                str(minilm_dir()), **dropouts
            )
        else:
            # Rebuild from the run's copy of the BERT config; the run's weights go in next.
            hf_config = tf.BertConfig.from_json_file(str(self.run_dir / "bert_config.json"))
            for key, value in dropouts.items():
                setattr(hf_config, key, value)
            hf = tf.AutoModelForSequenceClassification.from_config(hf_config)
        return HFClassifier(hf, config)

    def train_source(self, train_config: TrainConfig) -> FixedBatches:
        """Token-budget batches cut once from length-sorted sentences; each epoch shuffles their
        order. (Cutting them anew every epoch, as translation's ParallelBatches does, was
        measured and was not better here: see docs/classification.md.)"""
        from aiayn.data.batching import token_budget_batches

        examples = self._examples("train")
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
        probs = torch.empty(len(encoded), len(LABELS))
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), EVAL_SENTENCES):
            chunk = order[start : start + EVAL_SENTENCES]
            tokens = self.collate([(encoded[i], 0) for i in chunk])["tokens"].to(device)
            with torch.no_grad():
                logits = model(tokens, mask=tokens != self.pad_id)  # (B, C)
            probs[chunk] = logits.float().softmax(-1).cpu()
        return probs

    def evaluate(self, model: nn.Module, split: str = "val") -> dict[str, float]:
        """Loss, accuracy and F1 (positive class) on dev ("val", "dev", "test") or the first
        TRAIN_EVAL_LIMIT training sentences ("train")."""
        from aiayn.evaluation.metrics import accuracy_f1

        if split not in ("val", "dev", "test", "train"):
            raise AiaynError(f"split must be val, dev, test or train, got {split!r}")
        examples = self._examples(split)
        if split == "train":
            examples = examples[:TRAIN_EVAL_LIMIT]
        labels = torch.tensor([label for _, label in examples])
        probs = self.probabilities(model, [ids for ids, _ in examples])
        nll = -probs[torch.arange(len(labels)), labels].clamp(min=1e-12).log().mean().item()
        scores = accuracy_f1(probs.argmax(-1), labels)
        return {
            f"{split}_loss": nll,
            f"{split}_accuracy": scores["accuracy"],
            f"{split}_f1": scores["f1"],
        }

    def labels(self) -> list[str]:
        return list(LABELS)

    def classify(self, model: nn.Module, lines: list[str]) -> list[tuple[str, float]]:
        """The label ("negative"/"positive") and its probability for each line."""
        if not lines:
            return []
        probs = self.probabilities(model, self.encode(lines))
        best = probs.argmax(-1)
        return [(LABELS[int(c)], float(p[c])) for c, p in zip(best, probs, strict=True)]

    def reference_outputs(self, model: nn.Module) -> list[tuple[str, float]]:
        """Labels and probabilities (4 decimals) of the first dev sentences."""
        sentences = [s for s, _ in self._raw("dev")[:N_REFERENCE]]
        return [(label, round(p, 4)) for label, p in self.classify(model, sentences)]

    def summarize(
        self, model: nn.Module, untrained: dict[str, float], final: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        # The trainer's last evaluation ("val" is dev) scored these very weights: reuse it.
        if final and "val_accuracy" in final:
            dev = {f"dev_{k}": final[f"val_{k}"] for k in ("accuracy", "f1", "loss")}
        else:
            dev = self.evaluate(model, "dev")
        return {
            "init": self.opts["init"],
            "backend": self.opts["backend"],
            "train_sentences": len(self._examples("train")),
            "dev_sentences": len(self._examples("dev")),
            "dev_accuracy": dev["dev_accuracy"],
            "dev_f1": dev["dev_f1"],
            "dev_loss": dev["dev_loss"],
            "untrained_dev_accuracy": untrained["accuracy"],
            "untrained_dev_loss": untrained["loss"],
        }

    def proofs(self, s: dict[str, Any]) -> list[str]:
        start = f"{s['init']} ({s['backend']})" if s["init"] else "random init"
        return [
            f"1. dev accuracy {s['dev_accuracy']:.2%} (F1 {s['dev_f1']:.4f}) from {start}, vs "
            f"{s['untrained_dev_accuracy']:.2%} before training",
            f"2. dev loss {s['dev_loss']:.4f} vs {s['untrained_dev_loss']:.4f} before training",
        ]


__all__ = ["HFClassifier", "LABELS", "SST2Task"]
