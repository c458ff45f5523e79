"""The restart under a faster allocator: when it happens, what it sets, and that it happens once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from aiayn.cli import allocator
from aiayn.cli.allocator import RESTARTED_ENV, find_fast_allocator, restart_command


def test_restarts_under_the_library_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator.ctypes.util, "find_library", lambda name: f"lib{name}.so.4")
    command, env = restart_command(["train", "reverse"], {"PATH": "/bin"}, platform="linux")
    assert command == [sys.executable, "-m", "aiayn", "train", "reverse"]
    assert env["LD_PRELOAD"] == "libtcmalloc_minimal.so.4"  # tcmalloc first
    assert env[RESTARTED_ENV] == "libtcmalloc_minimal.so.4" and env["PATH"] == "/bin"


def test_keeps_what_is_already_preloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator.ctypes.util, "find_library", lambda name: f"lib{name}.so")
    _, env = restart_command([], {"LD_PRELOAD": "/opt/libfoo.so"}, platform="linux")
    assert env["LD_PRELOAD"] == "libtcmalloc_minimal.so:/opt/libfoo.so"


@pytest.mark.parametrize(
    "env",
    [
        {RESTARTED_ENV: "libtcmalloc_minimal.so.4"},  # restarted already: never twice
        {"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"},  # the user preloaded one
        {"AIAYN_ALLOCATOR": "system"},  # the user wants glibc's
    ],
)
def test_goes_on_as_it_is(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator.ctypes.util, "find_library", lambda name: f"lib{name}.so")
    assert restart_command(["eval", "run"], env, platform="linux") is None


def test_nothing_found_or_not_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator.ctypes.util, "find_library", lambda name: None)
    assert find_fast_allocator({}) is None
    assert restart_command([], {}, platform="linux") is None
    monkeypatch.setattr(allocator.ctypes.util, "find_library", lambda name: f"lib{name}.so")
    assert restart_command([], {}, platform="darwin") is None


def test_a_named_library_is_taken_as_it_is() -> None:
    assert find_fast_allocator({"AIAYN_ALLOCATOR": "/opt/lib/libjemalloc.so.2"}) == (
        "/opt/lib/libjemalloc.so.2"
    )


@pytest.mark.skipif(sys.platform != "linux", reason="LD_PRELOAD is Linux's")
def test_the_command_restarts_itself_with_the_library_preloaded() -> None:
    # The dynamic loader names a library it was asked to preload and could not: proof that the
    # command ran again with LD_PRELOAD set, whatever allocators this machine has.
    env = {k: v for k, v in os.environ.items() if k not in (RESTARTED_ENV, "LD_PRELOAD")}
    env["AIAYN_ALLOCATOR"] = "/nonexistent/libnotthere.so"
    proc = subprocess.run(
        [sys.executable, "-m", "aiayn", "--help"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0 and "usage: aiayn" in proc.stdout
    assert "libnotthere.so" in proc.stderr
    env["AIAYN_ALLOCATOR"] = "system"
    proc = subprocess.run(
        [sys.executable, "-m", "aiayn", "--help"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0 and "libnotthere.so" not in proc.stderr
