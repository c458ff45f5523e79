"""A faster memory allocator for training on a CPU, when one is installed.

PyTorch on a CPU allocates and frees large tensors at every training step, of changing shapes
when batches vary in length, and evaluation in between leaves other sizes behind. glibc's malloc
handles this poorly: a step of the DialogSum recipe takes 0.87 s with it (0.75 s with the
thresholds aiayn.training.device raises), 0.77 s under jemalloc and 0.58 s under tcmalloc, which
keeps freed blocks in per-size caches and hands them out again
(benchmarks/results/allocator.md). An allocator cannot be swapped inside a running process: it
has to be loaded before anything else, through LD_PRELOAD.

So the `aiayn` command, started on Linux and not already running under tcmalloc or jemalloc,
looks for one of them (tcmalloc first: it measured fastest) and, if one is installed, starts
itself again with it preloaded (the same process id: `exec`). Debian and Ubuntu package it as
`libtcmalloc-minimal4` (or `libjemalloc2`).

    AIAYN_ALLOCATOR=system      keep glibc's malloc
    AIAYN_ALLOCATOR=/path/x.so  preload that library instead of looking
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Mapping

# the libraries looked for, best first (names for ctypes.util.find_library)
CANDIDATES: tuple[str, ...] = ("tcmalloc_minimal", "tcmalloc", "jemalloc")
FAST = ("tcmalloc", "jemalloc")
RESTARTED_ENV = "AIAYN_ALLOCATOR_LOADED"  # set in the restarted process: never restart twice


def find_fast_allocator(env: Mapping[str, str]) -> str | None:
    """The library to preload as `AIAYN_ALLOCATOR` asks ("auto" by default: the first of
    CANDIDATES that is installed), or None for the system's malloc."""
    choice = env.get("AIAYN_ALLOCATOR", "auto").strip()
    if choice == "system":
        return None
    if choice != "auto":
        return choice
    for name in CANDIDATES:
        found = ctypes.util.find_library(name)
        if found:
            return found
    return None


def restart_command(
    argv: list[str], env: Mapping[str, str], *, platform: str = sys.platform
) -> tuple[list[str], dict[str, str]] | None:
    """The command and environment that run `aiayn ARGV` again under a fast allocator, or None
    when this process should go on as it is (not Linux, already restarted, an allocator already
    preloaded, or none to be found)."""
    if platform != "linux" or env.get(RESTARTED_ENV):
        return None
    preload = env.get("LD_PRELOAD", "")
    if any(name in preload for name in FAST):
        return None
    library = find_fast_allocator(env)
    if library is None:
        return None
    new_env = dict(env)
    new_env["LD_PRELOAD"] = f"{library}:{preload}" if preload else library
    new_env[RESTARTED_ENV] = library
    return [sys.executable, "-m", "aiayn", *argv], new_env


def restart_with_fast_allocator(argv: list[str]) -> None:
    """Replace this process by `aiayn ARGV` under a fast allocator, if `restart_command` says
    so; otherwise return and let the command run here."""
    restart = restart_command(argv, os.environ)
    if restart is not None:
        command, env = restart
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, command, env)


__all__ = ["CANDIDATES", "find_fast_allocator", "restart_command", "restart_with_fast_allocator"]
