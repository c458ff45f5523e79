"""`aiayn ...` with a checkpoint writer that can be caught halfway, for benchmarks/kill_resume.py.

When the file named by AIAYN_PAUSE_FLAG exists, every checkpoint write stops after its weights
are written, while the checkpoint is still a temporary directory: the worker writes the
directory's name into AIAYN_PAUSE_FLAG + ".at" and waits there to be killed. Otherwise it is the
plain command. Nothing here is part of aiayn; it only lets a test observe the moment it kills.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import aiayn.training.checkpoint as checkpoint
from aiayn.cli import main

_save_file = checkpoint.save_file


def _caught_save_file(tensors, filename, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
    _save_file(tensors, filename, *args, **kwargs)
    flag = Path(os.environ.get("AIAYN_PAUSE_FLAG", "/nonexistent"))
    if ".tmp-" in str(filename) and flag.exists():  # inside a checkpoint being written
        Path(str(flag) + ".at").write_text(str(Path(filename).parent), encoding="utf-8")
        while True:  # until the controller kills this process
            time.sleep(0.05)


checkpoint.save_file = _caught_save_file

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
