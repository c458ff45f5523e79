"""Choosing the device and the numeric precision."""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform

import torch

from aiayn.errors import AiaynError


def resolve_device(name: str = "auto") -> torch.device:
    """ "auto" picks cuda > mps > cpu; otherwise the named device, checked to exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise AiaynError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AiaynError(f"device {name!r} asked for, but CUDA is not available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise AiaynError(f"device {name!r} asked for, but MPS is not available here")
    return device


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes in bf16 natively: a CUDA GPU that supports it, or a CPU with
    AVX-512 BF16 or AMX (there bf16 matrix multiplies run several times faster than fp32; on
    other CPUs they are emulated and slower)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """ "auto" -> "bf16" where the device has native bf16 (`native_bf16`), else "fp32"; any
    other precision is returned as it is."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for `precision`: fp32 does nothing; bf16 works on CPU and CUDA;
    fp16 needs CUDA (and a GradScaler, which the trainer adds)."""
    precision = resolve_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise AiaynError("precision fp16 needs a CUDA device; use bf16 on CPU")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def allocator_in_use() -> str:
    """The allocator of this process: "tcmalloc" or "jemalloc" when one of them is loaded (the
    `aiayn` command preloads one where it is installed: aiayn.cli.allocator), else "system"."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            maps = f.read()
    except OSError:
        return "system"
    return next((name for name in ("tcmalloc", "jemalloc") if name in maps), "system")


def keep_freed_memory() -> bool:
    """On Linux with glibc's malloc, let it keep and reuse large freed blocks instead of
    returning them to the kernel. Returns whether it did (False elsewhere, under tcmalloc or
    jemalloc, or with AIAYN_MALLOC_TUNING=0).

    glibc serves blocks above 32 MB with a fresh mmap and unmaps them on free. A CPU training
    step that allocates such a block every time (the dense gradient of a 30,522 x 384 word
    embedding is 47 MB) then pays for ~11,000 page faults a step: 4x the cost of the zeroing
    itself. Raising glibc's thresholds gets that reuse with nothing to install, at the price of
    a resident size that stays at its peak; but blocks of changing sizes (batches of varying
    length, evaluations between steps) fragment its heap, and the gain fades over a long run.
    tcmalloc or jemalloc do better (the `aiayn` command preloads one where it is installed).
    """
    if os.environ.get("AIAYN_MALLOC_TUNING") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    if allocator_in_use() != "system":  # a better allocator serves malloc already
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
    mmap_ok = libc.mallopt(m_mmap_threshold, 1 << 30)  # blocks up to 1 GiB from the heap
    trim_ok = libc.mallopt(m_trim_threshold, (1 << 31) - 1)  # never give the heap top back
    return bool(mmap_ok and trim_ok)


def device_of(module: torch.nn.Module) -> torch.device:
    """The device a module's parameters are on."""
    return next(module.parameters()).device
