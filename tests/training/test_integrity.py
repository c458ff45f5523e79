"""Checksums beside every weights file and in every checkpoint (the sha256sum format), each damage
refused in one line naming the file; and a weights file that does not fit a model explained in
ModelConfig terms."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from aiayn.config import ModelConfig
from aiayn.errors import AiaynError
from aiayn.models import build_model
from aiayn.training.integrity import (
    SUMS,
    DamagedFileError,
    describe_mismatch,
    sha256_file,
    verify_directory,
    verify_file,
    write_sidecar,
    write_sums,
)


def _file(tmp_path: Path, name: str = "model.safetensors", data: bytes = b"weights" * 1000) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_damaged_file_is_a_user_error():
    assert issubclass(DamagedFileError, AiaynError)


def test_the_sidecar_is_what_sha256sum_writes_and_checks(tmp_path):
    path = _file(tmp_path)
    sidecar = write_sidecar(path)
    assert sidecar == tmp_path / "model.safetensors.sha256"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha256_file(path) == digest
    assert sidecar.read_text() == f"{digest}  model.safetensors\n"
    if shutil.which("sha256sum"):
        done = subprocess.run(["sha256sum", "-c", sidecar.name], cwd=tmp_path, capture_output=True)
        assert done.returncode == 0, done.stderr


def test_verify_file(tmp_path):
    path = _file(tmp_path)
    assert verify_file(path) is False  # no sidecar: a file from an older aiayn
    with pytest.raises(
        DamagedFileError, match=r"has no checksum \(model.safetensors.sha256 is missing\)"
    ):
        verify_file(path, required=True)
    write_sidecar(path)
    assert verify_file(path) is True and verify_file(path, required=True) is True


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-10],  # truncated
        lambda data: bytes([data[0] ^ 1]) + data[1:],  # one flipped bit
        lambda data: data + b"\0",  # grown
    ],
    ids=["truncated", "flipped", "grown"],
)
def test_a_changed_file_is_refused_naming_it(tmp_path, damage):
    path = _file(tmp_path)
    write_sidecar(path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DamagedFileError) as error:
        verify_file(path)
    assert str(error.value).startswith(f"{path} is damaged: its SHA-256 differs")


def test_a_missing_file_or_a_bad_sidecar(tmp_path):
    with pytest.raises(DamagedFileError, match="nothing.safetensors is missing"):
        verify_file(tmp_path / "nothing.safetensors")
    path = _file(tmp_path)
    sidecar = write_sidecar(path)
    path.unlink()
    with pytest.raises(DamagedFileError, match="model.safetensors is missing"):
        verify_file(path)
    _file(tmp_path)
    sidecar.write_text(f"{'0' * 64}  other.safetensors\n")
    with pytest.raises(DamagedFileError, match="does not list model.safetensors"):
        verify_file(path)
    sidecar.write_text("not a checksum\n")
    with pytest.raises(DamagedFileError, match=r"sha256:1: not a sha256sum line: 'not a checksum'"):
        verify_file(path)
    sidecar.write_text("")
    with pytest.raises(DamagedFileError, match="lists no file"):
        verify_file(path)


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    directory = tmp_path / "step-0000010"
    directory.mkdir()
    _file(directory, "model.safetensors")
    _file(directory, "state.pt", b"state" * 100)
    write_sums(directory, ["model.safetensors", "state.pt"])
    return directory


def test_a_complete_checkpoint_verifies(checkpoint):
    verify_directory(checkpoint, required_files=("model.safetensors", "state.pt"))
    lines = (checkpoint / SUMS).read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == ["model.safetensors", "state.pt"]
    if shutil.which("sha256sum"):
        done = subprocess.run(["sha256sum", "-c", SUMS], cwd=checkpoint, capture_output=True)
        assert done.returncode == 0, done.stderr


def test_a_checkpoint_with_a_damaged_missing_or_unlisted_file_is_refused(checkpoint):
    required = ("model.safetensors", "state.pt")
    (checkpoint / "state.pt").write_bytes(b"other")
    with pytest.raises(DamagedFileError, match=r"state\.pt is damaged"):
        verify_directory(checkpoint, required_files=required)
    (checkpoint / "state.pt").unlink()
    with pytest.raises(DamagedFileError, match=r"state\.pt is missing"):
        verify_directory(checkpoint, required_files=required)
    write_sums(checkpoint, ["model.safetensors"])
    with pytest.raises(DamagedFileError, match=r"does not list state\.pt"):
        verify_directory(checkpoint, required_files=required)
    (checkpoint / SUMS).unlink()
    with pytest.raises(DamagedFileError, match="has no SHA256SUMS: not a complete checkpoint"):
        verify_directory(checkpoint, required_files=required)
    with pytest.raises(DamagedFileError, match="step-9 is missing"):
        verify_directory(checkpoint.parent / "step-9", required_files=required)


# ---------------------------------------------------------------------------------- shapes
BASE = dict(vocab_size=30, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=20)


def _shapes(**changes) -> dict[str, tuple[int, ...]]:
    model = build_model(ModelConfig(**{**BASE, **changes}))
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def test_weights_that_fit_need_no_explanation():
    shapes = _shapes()
    assert describe_mismatch(shapes, shapes) is None
    tied = {k: v for k, v in shapes.items() if not k.startswith("generator")}
    assert describe_mismatch(tied, shapes) is None  # a tied matrix stored once


@pytest.mark.parametrize(
    ("file_changes", "model_changes", "explanation"),
    [
        ({"vocab_size": 40}, {}, r"vocab_size \(a different tokenizer or vocabulary\?\) differs"),
        (
            {"d_ff": 64},
            {},
            r"d_ff differs: .*feed_forward\.w_1\.bias is \(64,\) in the file but \(32,\)",
        ),
        ({"n_layers": 3}, {}, "n_layers differs: the file has 3 encoder layers, the model 2"),
        ({"n_decoder_layers": 1}, {}, "n_decoder_layers differs: the file has 1 decoder layers"),
        (
            {"arch": "encoder-classifier", "n_classes": 3},
            {"arch": "encoder-classifier"},
            "n_classes differs",
        ),
        ({"positional": "learned", "max_len": 24}, {"positional": "learned"}, "max_len differs"),
    ],
)
def test_a_weights_file_of_another_shape_is_explained(file_changes, model_changes, explanation):
    message = describe_mismatch(_shapes(**file_changes), _shapes(**model_changes))
    assert message is not None
    assert re.search(explanation, message), message


def test_tensors_the_model_has_no_place_for():
    shapes = _shapes()
    extra = {**shapes, "encoder.adapter.weight": (4, 4)}
    assert describe_mismatch(extra, shapes) == (
        "the file holds tensors the model has no place for, e.g. encoder.adapter.weight"
    )
