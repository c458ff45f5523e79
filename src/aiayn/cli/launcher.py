"""`aiayn train --nproc N`: start N training processes on this machine through torchrun.

This is `torchrun --standalone --nproc-per-node N -m aiayn ...` run through torchrun's own entry
point (`torch.distributed.run.main`) in this process, which becomes the elastic agent watching the
workers: that is how it learns which worker failed, and how. A worker hands its one-line error to
the launcher (TORCHELASTIC_ERROR_FILE) instead of printing it, and the launcher reports the first
cause in one line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Iterator, Sequence

from aiayn.errors import AiaynError
from aiayn.training.distributed import PEER_LOST

log = logging.getLogger(__name__)

# Set by `launch` for its workers: they hand their error to the launcher instead of printing it.
LAUNCHED_ENV = "AIAYN_LAUNCHED"


class WorkerFailedError(AiaynError):
    """A worker of a multi-process run failed; `exit_code` is what the command should return."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def hand_error_to_launcher(message: str) -> None:
    """In a worker: record `message` where torchrun's agent reads it (TORCHELASTIC_ERROR_FILE)."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"message": message, "timestamp": int(time.time())}, f)


def _without_nproc(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def describe_failures(failures: dict) -> tuple[str, int]:
    """One line for the first cause among torchrun's failed workers, and the exit code.

    `failures` maps global rank -> ProcessFailure. The first cause is a worker killed by a signal
    other than the SIGTERM torchrun sends the survivors, else one that failed on its own (not by
    losing its peers), else the earliest.
    """

    def priority(item: tuple) -> tuple:
        rank, f = item
        killed = f.exitcode < 0 and f.exitcode != -signal.SIGTERM
        own = f.exitcode > 0 and PEER_LOST not in str(f.message)
        return (0 if killed else 1 if own else 2, f.timestamp, rank)

    rank, f = min(failures.items(), key=priority)
    resume = "; resume from the last checkpoint with the same command and --resume"
    if f.exitcode < 0:
        return (
            f"rank {rank} (pid {f.pid}) was killed by {f.signal_name()}, so the run stopped"
            + resume,
            128 - f.exitcode,
        )
    if f.error_file != "<N/A>" and isinstance(f.message, str):  # the worker's own error
        return f.message, f.exitcode
    return f"rank {rank} failed with exit code {f.exitcode} (its traceback is above)", f.exitcode


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def launch(nproc: int, argv: Sequence[str]) -> int:
    """Run `aiayn <argv>` (minus `--nproc`) as `nproc` processes on this machine; return 0.

    Each worker gets OMP_NUM_THREADS = cores / N unless it is set.

    A failed worker raises `WorkerFailedError` with one line naming the first cause; its exit
    code is the worker's own (2 for a user error, as without --nproc; 1 for a crash), or
    128 + N for a worker killed by signal N (137 for SIGKILL), as a shell reports it.
    """
    if not isinstance(nproc, int) or nproc < 1:
        raise AiaynError(f"--nproc must be a positive integer, got {nproc!r}")
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    args = ["--standalone", f"--nproc-per-node={nproc}", "-m", "aiayn", *_without_nproc(argv)]
    env = {LAUNCHED_ENV: "1"}
    if "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    # The agent logs each failure at length (each of its modules' loggers has its own level);
    # the one line of WorkerFailedError replaces that, unless asked for details (-v).
    quiet = not log.isEnabledFor(logging.INFO)
    elastic = [
        logging.getLogger(name)
        for name in ["torch.distributed.elastic", *logging.Logger.manager.loggerDict]
        if name.startswith("torch.distributed.elastic")
    ]
    levels = [logger.level for logger in elastic]
    try:
        for logger in elastic if quiet else []:
            logger.setLevel(logging.CRITICAL)
        with _environment(**env):
            torchrun.main(args)
    except ChildFailedError as e:
        message, code = describe_failures(e.failures)
        raise WorkerFailedError(message, code) from None
    except SignalException as e:
        if e.sigval == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise WorkerFailedError(f"stopped by {e.sigval.name}", 128 + int(e.sigval)) from None
    finally:
        for logger, level in zip(elastic, levels, strict=True):
            logger.setLevel(level)
    return 0


__all__ = [
    "LAUNCHED_ENV",
    "WorkerFailedError",
    "describe_failures",
    "hand_error_to_launcher",
    "launch",
]
