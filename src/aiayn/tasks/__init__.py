"""The tasks `aiayn train` knows, by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiayn.errors import AiaynError
from aiayn.tasks.base import Run, Task, load_run
from aiayn.tasks.classification import SST2Task
from aiayn.tasks.language_model import ShakespeareTask, TinyShakespeareCharTask
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
        SST2Task,
        ShakespeareTask,
        TinyShakespeareCharTask,
    )
}


def register(task: type[Task]) -> type[Task]:
    """Add a task class to the registry (usable as a decorator)."""
    TASKS[task.name] = task
    return task


def get_task(
    name: str, options: dict[str, Any] | None = None, *, data_dir: Path | None = None
) -> Task:
    if name not in TASKS:
        raise AiaynError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name](options, data_dir=data_dir)


__all__ = ["TASKS", "Run", "Task", "get_task", "load_run", "register"]
