"""Checking that files are what was written: SHA-256 checksums, and weights that fit the model.

Every weights file `aiayn` writes gets a checksum beside it, `<file>.sha256`, and every
checkpoint directory a `SHA256SUMS` listing its files; both use the `sha256sum` format, so
`sha256sum -c model.safetensors.sha256` (or, in a checkpoint, `sha256sum -c SHA256SUMS`) checks
them by hand. A file that is truncated, has a flipped byte, is missing, or cannot be parsed is
refused with one line naming it (`DamagedFileError`), before anything reads it.

`describe_mismatch` compares a weights file's tensor shapes with a model's and names the setting
that differs (vocabulary, d_model, d_ff, layers, classes...), so loading weights into a model of
another shape says why, before torch raises anything.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from aiayn.errors import AiaynError

SUMS = "SHA256SUMS"
_CHUNK = 1 << 20


class DamagedFileError(AiaynError):
    """A file does not match its checksum, is missing, or cannot be read."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sums_line(path: Path) -> str:
    """One `sha256sum` line for `path` (its name only, relative to its folder)."""
    return f"{sha256_file(path)}  {path.name}\n"


def write_sidecar(path: Path) -> Path:
    """Write `<path>.sha256` beside `path`; return the sidecar's path."""
    sidecar = path.with_name(path.name + ".sha256")
    sidecar.write_text(sums_line(path), encoding="utf-8")
    return sidecar


def _parse_sums(text: str, source: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        found = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line.strip())
        if not found:
            raise DamagedFileError(f"{source}:{number}: not a sha256sum line: {line[:60]!r}")
        entries[found.group(2)] = found.group(1)
    if not entries:
        raise DamagedFileError(f"{source} lists no file")
    return entries


def _read_sums(source: Path) -> dict[str, str]:
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DamagedFileError(f"cannot read the checksums {source}: {e}") from None
    return _parse_sums(text, source)


def _check(path: Path, expected: str) -> None:
    if not path.is_file():
        raise DamagedFileError(f"{path} is missing")
    if sha256_file(path) != expected:
        raise DamagedFileError(
            f"{path} is damaged: its SHA-256 differs from the one written with it "
            "(truncated or modified since)"
        )


def verify_file(path: Path, *, required: bool = False) -> bool:
    """Check `path` against its `.sha256` sidecar. Returns False when there is no sidecar (a
    file from an older aiayn) unless `required`, which refuses that too."""
    path = Path(path)
    sidecar = path.with_name(path.name + ".sha256")
    if not sidecar.is_file():
        if required:
            raise DamagedFileError(f"{path} has no checksum ({sidecar.name} is missing)")
        if not path.is_file():
            raise DamagedFileError(f"{path} is missing")
        return False
    entries = _read_sums(sidecar)
    if path.name not in entries:
        raise DamagedFileError(f"{sidecar} does not list {path.name}")
    _check(path, entries[path.name])
    return True


def write_sums(directory: Path, names: list[str]) -> None:
    """Write `SHA256SUMS` in `directory` for the files `names`."""
    lines = "".join(sums_line(Path(directory) / name) for name in names)
    (Path(directory) / SUMS).write_text(lines, encoding="utf-8")


def verify_directory(directory: Path, *, required_files: tuple[str, ...]) -> None:
    """Check every file `SHA256SUMS` lists in `directory`, and that it lists `required_files`."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DamagedFileError(f"{directory} is missing")
    sums = directory / SUMS
    if not sums.is_file():
        raise DamagedFileError(f"{directory} has no {SUMS}: not a complete checkpoint")
    entries = _read_sums(sums)
    for name in required_files:
        if name not in entries:
            raise DamagedFileError(f"{sums} does not list {name}")
    for name, expected in entries.items():
        _check(directory / name, expected)


# ------------------------------------------------------------------------------- shapes
def _setting(name: str, axis: int) -> str:
    """The ModelConfig field a weight's axis is sized by (best effort, from its name)."""
    if re.search(r"(embed\.token|word_embeddings|generator)\.weight$", name):
        return "vocab_size (a different tokenizer or vocabulary?)" if axis == 0 else "d_model"
    if re.search(r"(position|position_embeddings)\.weight$", name):
        return "max_len" if axis == 0 else "d_model"
    if "token_type" in name:
        return "type_vocab_size" if axis == 0 else "d_model"
    if "classifier" in name:
        return "n_classes" if axis == 0 else "d_model"
    if re.search(r"feed_forward\.w_1\.(weight|bias)$", name):
        return "d_ff" if axis == 0 else "d_model"
    if re.search(r"feed_forward\.w_2\.weight$", name):
        return "d_model" if axis == 0 else "d_ff"
    return "d_model"


_LAYER = re.compile(r"\.layers?\.(\d+)\.")


def _depth(names: dict[str, tuple[int, ...]], prefix: str) -> int:
    """How many numbered layers the tensors under `prefix` span."""
    found = [int(m.group(1)) for n in names if n.startswith(prefix) and (m := _LAYER.search(n))]
    return max(found, default=-1) + 1


def describe_mismatch(
    file_shapes: dict[str, tuple[int, ...]], model_shapes: dict[str, tuple[int, ...]]
) -> str | None:
    """What differs between a weights file and a model, in ModelConfig terms, or None if every
    tensor the file holds fits the model (tied tensors stored once may be absent from the file).
    """
    for name, shape in sorted(file_shapes.items()):
        want = model_shapes.get(name)
        if want is None or want == shape:
            continue
        if len(want) != len(shape):
            return f"{name} has {len(shape)} dimensions in the file, the model {len(want)}"
        axis = next(i for i, (a, b) in enumerate(zip(shape, want, strict=True)) if a != b)
        return (
            f"{_setting(name, axis)} differs: {name} is {tuple(shape)} in the file but "
            f"{tuple(want)} in the model"
        )
    layer = re.compile(r"\.layers?\.(\d+)\.")
    for side in ("encoder", "decoder", ""):

        def depth(names: dict[str, tuple[int, ...]], side: str = side) -> int:
            found = [
                int(m.group(1)) for n in names if n.startswith(side) and (m := layer.search(n))
            ]
            return max(found, default=-1) + 1

        have, want = depth(file_shapes), depth(model_shapes)
        if have != want:
            field = "n_decoder_layers" if side == "decoder" else "n_layers"
            return (
                f"{field} differs: the file has {have} {side or 'stack'} layers, the model {want}"
            )
    extra = sorted(set(file_shapes) - set(model_shapes))
    if extra:
        return f"the file holds tensors the model has no place for, e.g. {extra[0]}"
    return None


__all__ = [
    "SUMS",
    "DamagedFileError",
    "describe_mismatch",
    "sha256_file",
    "verify_directory",
    "verify_file",
    "write_sidecar",
    "write_sums",
]
