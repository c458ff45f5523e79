"""FSDP's guards: it is offered for CUDA devices and several processes only, each refusal one line
saying what to do instead. (Sharded training itself is compared with one process in
test_distributed.py.)"""

from __future__ import annotations

import pytest
import torch

from aiayn import build_model, model_preset
from aiayn.errors import AiaynError
from aiayn.training.fsdp import check_fsdp, fully_shard_model


@pytest.mark.parametrize("cuda", [False, True])
@pytest.mark.parametrize("device", ["cpu", "mps"])
def test_a_device_that_is_not_cuda_is_refused_pointing_at_plain_ddp(monkeypatch, cuda, device):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    with pytest.raises(AiaynError) as error:
        check_fsdp(device)
    message = str(error.value)
    assert f"needs CUDA (device {device!r} here)" in message
    assert "--nproc N without --fsdp" in message


@pytest.mark.parametrize("device", ["auto", "cuda", "cuda:1"])
def test_cuda_devices_pass_when_cuda_is_there(monkeypatch, device):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    check_fsdp(device)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(AiaynError, match="needs CUDA"):
        check_fsdp(device)


def test_sharding_needs_several_processes():
    model = build_model(model_preset("tiny", vocab_size=20, n_layers=1))
    with pytest.raises(AiaynError, match="FSDP needs several processes: run under torchrun"):
        fully_shard_model(model, torch.device("cpu"))
    assert not hasattr(model, "reshard")  # left as it was: not an FSDP module
