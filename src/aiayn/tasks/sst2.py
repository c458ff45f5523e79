"""SST-2 sentiment (GLUE): movie-review sentences, negative or positive, dev accuracy.

    aiayn train sst2                               # from scratch, BPE learned on SST-2
    aiayn train sst2 --init minilm [--backend hf]  # fine-tuning the packaged all-MiniLM-L6-v2

The generic classification task (aiayn.tasks.classification) with the data set fixed: 67,349
training sentences, the 872 of dev for "val", "dev" and "test" alike (GLUE's test labels are not
public). The recipes are the measured ones of docs/classification.md.
"""

from __future__ import annotations

from typing import Any, ClassVar

from aiayn.data.sst2 import sst2
from aiayn.tasks.classification import ClassificationTask

LABELS: tuple[str, ...] = ("negative", "positive")
_FILE_OPTIONS = ("train_file", "val_file", "test_file", "text_field", "label_field", "labels")


class SST2Task(ClassificationTask):
    """Binary sentiment of movie-review sentences (GLUE SST-2); dev accuracy picks the best."""

    name: ClassVar[str] = "sst2"
    description: ClassVar[str] = (
        "sentiment classification (SST-2): from scratch, or --init minilm [--backend hf]"
    )
    options: ClassVar[dict[str, Any]] = {
        **{k: v for k, v in ClassificationTask.options.items() if k not in _FILE_OPTIONS},
        "max_seq_len": 64,  # tokens per sentence, special tokens included; longer are cut
    }

    def label_names(self) -> list[str]:
        return list(LABELS)

    def held_out(self, split: str) -> str:
        self.check_split(split, ("train", "val", "dev", "test"))
        return "train" if split == "train" else "val"

    def raw(self, split: str) -> list[tuple[str, str]]:
        data = sst2("train" if split == "train" else "dev", self.data_dir)
        return [(text, LABELS[label]) for text, label in data]


__all__ = ["LABELS", "SST2Task"]
