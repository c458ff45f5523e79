"""The tasks `aiayn train` knows, by name, and what each can do (aiayn.tasks.capabilities)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiayn.errors import AiaynError
from aiayn.tasks.base import Task
from aiayn.tasks.capabilities import (
    Classifies,
    DrawsAttention,
    Generates,
    Summarizes,
    Translates,
)
from aiayn.tasks.classification import ClassificationTask
from aiayn.tasks.language_model import ShakespeareTask, TinyShakespeareCharTask
from aiayn.tasks.sst2 import SST2Task
from aiayn.tasks.summarization import CNNDailyMailTask, DialogSumTask, SummarizationTask
from aiayn.tasks.toy import CopyTask, ReverseLMTask, ReverseTask
from aiayn.tasks.translation import Multi30kTask, TranslationTask

TASKS: dict[str, type[Task]] = {
    t.name: t
    for t in (
        CopyTask,
        ReverseTask,
        ReverseLMTask,
        Multi30kTask,
        TranslationTask,
        SummarizationTask,
        DialogSumTask,
        CNNDailyMailTask,
        ClassificationTask,
        SST2Task,
        ShakespeareTask,
        TinyShakespeareCharTask,
    )
}


def task_class(name: str) -> type[Task]:
    """The task class called `name`, or a one-line error listing the known ones."""
    if name not in TASKS:
        raise AiaynError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]


def get_task(
    name: str, options: dict[str, Any] | None = None, *, data_dir: Path | None = None
) -> Task:
    """A task called `name`, with its options checked."""
    return task_class(name)(options, data_dir=data_dir)


__all__ = [
    "TASKS",
    "Classifies",
    "DrawsAttention",
    "Generates",
    "Summarizes",
    "Task",
    "Translates",
    "get_task",
    "task_class",
]
