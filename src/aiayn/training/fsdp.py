"""FSDP2 (`fully_shard`): a model too big for one GPU, sharded over the ranks of a torchrun job.

Each encoder and decoder layer is a unit: its parameters are gathered just before it runs and
freed after, so a rank holds one layer in full plus 1 / world of the rest. Checkpoints stay the
same files as without FSDP: rank 0 gathers the full weights and optimiser state to write them,
and scatters them back on resume.
"""

from __future__ import annotations

import torch
from torch import nn

from aiayn.errors import AiaynError
from aiayn.nn.decoder import DecoderLayer
from aiayn.nn.encoder import EncoderLayer
from aiayn.training.distributed import rank_and_world


def check_fsdp(device_name: str) -> None:
    """FSDP is offered for CUDA devices: raise a clear error for any other."""
    cuda = torch.cuda.is_available() and (device_name == "auto" or device_name.startswith("cuda"))
    if not cuda:
        raise AiaynError(
            f"--fsdp shards the model over GPUs and needs CUDA (device {device_name!r} here); "
            "on CPU train with plain data parallelism: --nproc N without --fsdp"
        )


def fully_shard_model(model: nn.Module, device: torch.device) -> nn.Module:
    """Shard `model` in place with FSDP2: each encoder and decoder layer, then the whole model.

    Each layer's parameters are gathered just before it runs and freed after, so a rank holds
    one layer in full plus 1 / world of the rest. `encode`/`decode` (used by decoding) run the
    same gathering as `forward`.
    """
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    _, world = rank_and_world()
    if world == 1:
        raise AiaynError("FSDP needs several processes: run under torchrun or with --nproc N")
    mesh = init_device_mesh(device.type, (world,))
    for layer in [m for m in model.modules() if isinstance(m, EncoderLayer | DecoderLayer)]:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    for name in ("encode", "decode"):
        if hasattr(model, name):
            register_fsdp_forward_method(model, name)
    return model


def gather_weights(model: nn.Module, *, into: nn.Module | None) -> None:
    """Gather a sharded model's full weights and load them into `into` (rank 0's plain copy of
    the model; None on the other ranks). A collective: call it on every rank."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)  # to rank 0's CPU
    weights = get_model_state_dict(model, options=options)
    if into is not None:
        into.load_state_dict(weights)


def gather_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """A sharded model's full optimiser state, keyed by parameter name, on rank 0 (empty on
    the other ranks). A collective."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_optimizer_state_dict(model, optimizer, options=options)


def scatter_state(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    source: nn.Module | None,
    optimizer_state: dict,
) -> None:
    """The reverse of the two gathers: rank 0's plain `source` model and full optimiser state
    are sent, shard by shard, into the sharded `model` and its optimiser. A collective."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    weights: dict[str, torch.Tensor] = {}
    if source is not None:
        # A tied matrix is one parameter of the sharded model: send it under one name.
        seen: set[int] = set()
        for name, tensor in source.state_dict().items():
            if tensor.data_ptr() not in seen:
                seen.add(tensor.data_ptr())
                weights[name] = tensor
    # Not strict: the tied aliases left out above are filled through their one parameter.
    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True, strict=False)
    set_model_state_dict(model, weights, options=options)
    set_optimizer_state_dict(model, optimizer, optimizer_state, options=options)


__all__ = [
    "check_fsdp",
    "fully_shard_model",
    "gather_optimizer_state",
    "gather_weights",
    "scatter_state",
]
