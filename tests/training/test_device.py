"""Device helpers: the glibc malloc tuning for CPU training."""

import os
import platform
import subprocess
import sys

import pytest

CHECK = """
import torch
from aiayn.training.device import keep_freed_memory
print(keep_freed_memory())
for _ in range(3):  # big blocks (47 MB, like a BERT word-embedding gradient) still work
    g = torch.zeros(30522, 384)
    g[0, 0] = 1.0
    assert g.sum().item() == 1.0
"""


def _run(env_value: str | None) -> str:
    env = None if env_value is None else {**os.environ, "AIAYN_MALLOC_TUNING": env_value}
    proc = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, env=env, check=True
    )
    return proc.stdout.strip()


@pytest.mark.slow
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_keep_freed_memory_tunes_glibc_and_can_be_switched_off():
    assert _run(None) == "True"
    assert _run("0") == "False"


def test_allocator_in_use_sees_a_preloaded_library():
    import ctypes.util

    from aiayn.training.device import allocator_in_use

    assert allocator_in_use() == "system"  # pytest runs under the system's malloc
    library = ctypes.util.find_library("tcmalloc_minimal") or ctypes.util.find_library("jemalloc")
    if library is None or sys.platform != "linux":
        pytest.skip("no tcmalloc or jemalloc installed")
    probe = "from aiayn.training.device import allocator_in_use, keep_freed_memory\n"
    probe += "print(allocator_in_use(), keep_freed_memory())"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "LD_PRELOAD": library},
        check=True,
    ).stdout.split()
    assert out[0] in ("tcmalloc", "jemalloc") and out[1] == "False"  # glibc's tuning left alone
