"""`aiayn ...` that can be caught at a chosen moment, for benchmarks/kill_resume.py and the
kill-and-resume tests.

Two ways to hold the run still until the controller kills it, so that the kill point is observed
and never raced:

- AIAYN_HOLD_AT_STEP=N: once the training record of step N is in metrics.jsonl, the worker
  waits there (the controller sees step N in the file, then kills).
- AIAYN_PAUSE_FLAG=PATH: while the file PATH exists, every checkpoint write stops after its
  weights are written, while the checkpoint is still a temporary directory: the worker writes
  the directory's name into PATH + ".at" and waits there. With AIAYN_PAUSE_STEP=N as well, only
  the write of step N's checkpoint stops.

Otherwise it is the plain command. Nothing here is part of aiayn; it only lets a test observe the
moment it kills.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import aiayn.training.checkpoint as checkpoint
from aiayn.cli import main
from aiayn.training.run_log import RunLog

_save_file = checkpoint.save_file
_record = RunLog.record


def _hold() -> None:
    while True:  # until the controller kills this process
        time.sleep(0.05)


def _caught_save_file(tensors, filename, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
    _save_file(tensors, filename, *args, **kwargs)
    flag = Path(os.environ.get("AIAYN_PAUSE_FLAG", "/nonexistent"))
    step = os.environ.get("AIAYN_PAUSE_STEP")
    chosen = step is None or f"step-{int(step):07d}.tmp-" in str(filename)
    if ".tmp-" in str(filename) and chosen and flag.exists():  # a checkpoint being written
        marker, partial = Path(f"{flag}.at"), Path(f"{flag}.at.partial")
        partial.write_text(str(Path(filename).parent), encoding="utf-8")
        os.replace(partial, marker)  # the controller never reads a half-written name
        _hold()


def _caught_record(self: RunLog, record: dict[str, Any]) -> None:
    _record(self, record)
    hold_at = os.environ.get("AIAYN_HOLD_AT_STEP")
    if hold_at and "train_loss" in record and record["step"] == int(hold_at):
        _hold()


checkpoint.save_file = _caught_save_file
RunLog.record = _caught_record

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
