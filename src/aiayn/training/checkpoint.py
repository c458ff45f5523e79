"""Checkpoints that survive a crash: written to a temporary directory, then renamed into place.

A checkpoint directory `checkpoints/step-0000500/` holds
    model.safetensors   the weights (safetensors: no pickle, loads anywhere)
    state.pt            optimiser, grad scaler, RNG and data position; loaded with weights_only=True
    SHA256SUMS          the checksums of both (aiayn.training.integrity)
and `checkpoints/latest` names the newest complete one. A crash at any moment leaves either the
old checkpoint or the new one, never half of one: `os.rename` of a directory is atomic on POSIX.
A checkpoint is verified before it is read; a damaged one is refused with one line naming the
file, and `intact_checkpoints` lists the others, newest first, for a resume to fall back on.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import safetensors
import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_file
from torch import nn

from aiayn.errors import AiaynError
from aiayn.training.integrity import (
    DamagedFileError,
    describe_mismatch,
    verify_directory,
    verify_file,
    write_sidecar,
    write_sums,
)

LATEST = "latest"
BEST = "best.json"
WEIGHTS, STATE = "model.safetensors", "state.pt"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary directory beside `final`; rename it to `final` if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-"))
    try:
        yield tmp
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync_dir(final.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _write_safetensors(model: nn.Module, path: str | Path) -> None:
    """The model's weights as a safetensors file, byte for byte the same for the same weights:
    a tied matrix is stored once under the first of its names in sorted order, and the header
    carries no metadata (safetensors' own note of dropped names comes out in a varying order)."""
    state = _unwrap(model).state_dict()
    kept: dict[tuple[int, torch.device], str] = {}
    for name in sorted(state):
        tensor = state[name]
        kept.setdefault((tensor.untyped_storage().data_ptr(), tensor.device), name)
    save_file({name: state[name].contiguous() for name in kept.values()}, str(path))


def save_weights(model: nn.Module, path: Path) -> None:
    """Model weights to one safetensors file, atomically (tied matrices are stored once), with
    its checksum beside it (`<path>.sha256`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        _write_safetensors(model, tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    write_sidecar(path)


def weight_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The tensors of a safetensors file and their shapes, read from its header alone."""
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as e:
        raise DamagedFileError(f"{path} cannot be read as safetensors ({e})") from None


def load_weights(model: nn.Module, path: Path) -> None:
    """Load a safetensors file written by `save_weights` into `model` (strict), after checking
    its checksum (when it has one) and that its tensors fit the model (naming what differs)."""
    path = Path(path)
    if not path.is_file():
        raise AiaynError(f"no weights file at {path}")
    verify_file(path)
    inner = _unwrap(model)
    shapes = weight_shapes(path)
    mismatch = describe_mismatch(shapes, {k: tuple(v.shape) for k, v in inner.state_dict().items()})
    if mismatch:
        raise AiaynError(f"the weights in {path} do not fit the model: {mismatch}")
    try:
        missing, unexpected = load_model(inner, path, strict=False)
    except (SafetensorError, OSError) as e:
        raise DamagedFileError(f"{path} cannot be read as safetensors ({e})") from None
    if missing or unexpected:
        raise AiaynError(
            f"weights in {path} do not fit the model: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        if hasattr(model, "module"):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def save_checkpoint(
    checkpoint_dir: Path, *, step: int, model: nn.Module, state: dict[str, Any], keep: int
) -> Path:
    """Write checkpoint `step-XXXXXXX`, point `latest` at it, prune all but the newest `keep`
    (and the best, if `best.json` names one). Returns the checkpoint's directory."""
    checkpoint_dir = Path(checkpoint_dir)
    name = f"step-{step:07d}"
    with atomic_directory(checkpoint_dir / name) as tmp:
        _write_safetensors(model, tmp / WEIGHTS)
        torch.save(state, tmp / STATE)
        write_sums(tmp, [WEIGHTS, STATE])
    atomic_write_text(checkpoint_dir / LATEST, name + "\n")
    _prune(checkpoint_dir, keep)
    return checkpoint_dir / name


def list_checkpoints(checkpoint_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        return []
    return sorted(p for p in checkpoint_dir.iterdir() if p.is_dir() and p.name.startswith("step-"))


def _prune(checkpoint_dir: Path, keep: int) -> None:
    protected = set()
    best = read_best(checkpoint_dir)
    if best is not None:
        protected.add(best["name"])
    checkpoints = list_checkpoints(checkpoint_dir)
    for old in checkpoints[: max(0, len(checkpoints) - keep)]:
        if old.name not in protected:
            shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The checkpoint `latest` names, or None if there is none yet."""
    pointer = Path(checkpoint_dir) / LATEST
    if not pointer.is_file():
        return None
    path = Path(checkpoint_dir) / pointer.read_text(encoding="utf-8").strip()
    return path if path.is_dir() else None


def mark_best(checkpoint_dir: Path, *, name: str, metric: str, value: float, step: int) -> None:
    atomic_write_json(
        Path(checkpoint_dir) / BEST, {"name": name, "metric": metric, "value": value, "step": step}
    )


def read_best(checkpoint_dir: Path) -> dict[str, Any] | None:
    path = Path(checkpoint_dir) / BEST
    if not path.is_file():
        return None
    try:
        best = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DamagedFileError(f"{path} cannot be read ({e})") from None
    if not isinstance(best, dict) or not isinstance(best.get("name"), str):
        raise DamagedFileError(f"{path} does not name a checkpoint")
    return best


def verify_checkpoint(path: Path) -> None:
    """Refuse, in one line naming the file, a checkpoint that is incomplete or damaged."""
    verify_directory(Path(path), required_files=(WEIGHTS, STATE))


def intact_checkpoints(checkpoint_dir: Path) -> tuple[list[Path], list[str]]:
    """(the checkpoints that pass `verify_checkpoint`, newest first; why each other failed)."""
    intact, damaged = [], []
    for path in reversed(list_checkpoints(checkpoint_dir)):
        try:
            verify_checkpoint(path)
        except DamagedFileError as e:
            damaged.append(str(e))
        else:
            intact.append(path)
    return intact, damaged


def read_state(path: Path, **load_options: object) -> dict[str, Any]:
    """A checkpoint's training state, loaded with weights_only=True: tensors and plain
    containers only, so a file crafted to run code when unpickled is refused, not run."""
    file = Path(path) / STATE
    try:
        with warnings.catch_warnings():  # torch warns of pickle protocols it was not made with
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(file, weights_only=True, map_location="cpu", **load_options)
    except pickle.UnpicklingError as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        why = next((line for line in lines if "Unsupported" in line), lines[0] if lines else "")
        raise DamagedFileError(
            f"{file} is refused: it holds objects a weights-only load does not allow ({why})"
        ) from None
    except (OSError, RuntimeError, EOFError) as e:
        raise DamagedFileError(f"{file} cannot be read ({e})") from None
    if not isinstance(state, dict):
        raise DamagedFileError(f"{file} does not hold a training state")
    return state


def load_checkpoint(path: Path, model: nn.Module) -> dict[str, Any]:
    """Verify a checkpoint, load its weights into `model` and return its training state."""
    path = Path(path)
    verify_checkpoint(path)
    load_weights(model, path / WEIGHTS)
    return read_state(path)


def average_checkpoints(paths: list[Path], model: nn.Module) -> None:
    """Load the element-wise mean of the weights of `paths` into `model` (section 6.1: the base
    models average the last 5 checkpoints, written at 10-minute intervals)."""
    if not paths:
        raise AiaynError("no checkpoints to average")
    from safetensors.torch import load_file

    total: dict[str, torch.Tensor] | None = None
    for p in paths:
        verify_checkpoint(Path(p))
        tensors = load_file(str(Path(p) / WEIGHTS))
        if total is None:
            total = {k: v.double() for k, v in tensors.items()}
        else:
            if tensors.keys() != total.keys():
                raise AiaynError(f"checkpoint {p} does not have the same tensors as {paths[0]}")
            for k, v in tensors.items():
                total[k] += v.double()
    assert total is not None
    inner = _unwrap(model)
    reference = dict(inner.state_dict())
    averaged = {k: (v / len(paths)).to(reference[k].dtype) for k, v in total.items()}
    # safetensors stored each tied matrix under one name; load non-strictly, then check coverage.
    missing, unexpected = inner.load_state_dict(averaged, strict=False)
    tied_ok = all(
        any(reference[m].data_ptr() == reference[k].data_ptr() for k in averaged) for m in missing
    )
    if unexpected or not tied_ok:
        raise AiaynError(f"averaged weights do not fit the model: {missing[:5]} {unexpected[:5]}")
