"""Training on several processes with PyTorch's own engine: torchrun, DDP and FSDP2.

    torchrun --nproc-per-node 4 -m aiayn train multi30k ...   # 4 GPUs (or 4 CPU processes)
    aiayn train multi30k --nproc 4 ...                        # the same, torchrun started for you

(docs/distributed.md has the two-machine command.)

torchrun starts one process per device and gives each RANK, LOCAL_RANK and WORLD_SIZE; `setup`
joins them into a process group (NCCL between GPUs, gloo between CPU processes). From then on:
- every rank trains on its own shard of each epoch's batches and DistributedDataParallel averages
  the gradients (or, with `--fsdp`, FSDP2 also shards parameters, gradients and optimiser state);
- evaluation splits its batches among the ranks and adds the figures up exactly as one process
  would (`EvalShard`), so no example is counted twice;
- only rank 0 writes files and prints; the others wait at a barrier where they need its files.

A rank that dies ends the job: torchrun stops the others, and the launcher of `--nproc`
(aiayn.cli.launcher) reports the failure in one line. Checkpoints are written atomically, so
`--resume` continues from the last one. Sharding the model itself is aiayn.training.fsdp.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
from collections.abc import Iterator, Sequence

import torch
import torch.distributed as dist
from torch import nn

from aiayn.errors import AiaynError

log = logging.getLogger(__name__)

PEER_LOST = "lost contact with the other processes"


class PeerLostError(AiaynError):
    """This rank's collective failed because another rank died (it is not the first cause)."""


# --------------------------------------------------------------------------------- process group
def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def requested() -> bool:
    """Whether torchrun started this process as one of several (WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device_name: str = "auto") -> torch.device:
    """Join the process group torchrun describes in the environment; return this rank's device.

    "auto" means CUDA when there is a GPU, else CPU. On CUDA each process takes the GPU of its
    LOCAL_RANK and the ranks talk over NCCL; on CPU they talk over gloo.
    """
    from aiayn.training.device import resolve_device

    if device_name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = resolve_device(device_name)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise AiaynError(
                f"local rank {local_rank} has no GPU: this machine has "
                f"{torch.cuda.device_count()}; start at most that many processes per node"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    elif device.type == "cpu":
        dist.init_process_group("gloo")
    else:
        raise AiaynError(
            f"distributed training runs on CUDA (NCCL) or CPU (gloo), not on {device.type}"
        )
    log.info("rank %d of %d on %s", dist.get_rank(), dist.get_world_size(), device)
    return device


def teardown() -> None:
    """Leave the process group (a no-op when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every rank gets here (a no-op in a single process)."""
    if rank_and_world()[1] > 1:
        dist.barrier()


def is_peer_failure(error: BaseException) -> bool:
    """Whether `error` is a collective that failed because another process went away."""
    if isinstance(error, dist.DistError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and (
        "closed by peer" in text or "Connection reset by peer" in text
    )


@contextlib.contextmanager
def peers_watched() -> Iterator[None]:
    """Turn a collective broken by a dead peer into a one-line `PeerLostError` of this rank."""
    try:
        yield
    except (RuntimeError, dist.DistError) as e:
        if not is_peer_failure(e) or rank_and_world()[1] == 1:
            raise
        rank = rank_and_world()[0]
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise PeerLostError(f"rank {rank} {PEER_LOST} ({first})") from e


def gather_rng_states(device: torch.device) -> list[dict[str, torch.Tensor]]:
    """Every rank's random generator states ({"cpu": ..., "cuda": ...}), in rank order."""
    mine = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        mine["cuda"] = torch.cuda.get_rng_state(device)
    states: list = [None] * rank_and_world()[1]
    dist.all_gather_object(states, mine)
    return states


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def data_parallel(model: nn.Module, device: torch.device) -> nn.Module:
    """`model` wrapped in DistributedDataParallel (gradients averaged over the processes)."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    # The only buffers are constant positional encodings: no need to broadcast them before every
    # forward pass (the option was renamed in torch 2.13).
    renamed = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
    constant_buffers = {"forward_sync_buffers" if renamed else "broadcast_buffers": False}
    return DistributedDataParallel(model, device_ids=ids, **constant_buffers)


# --------------------------------------------------------------------------------- evaluation
def is_fully_sharded(model: nn.Module) -> bool:
    """Whether `model` was sharded with FSDP2 (aiayn.training.fsdp)."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


class EvalShard:
    """Splits `n` evaluation batches among the ranks and adds up their figures in batch order.

    Usage, the same code in one process or many:

        shard = EvalShard(len(batches), width=3, model=model)
        for i in shard:                      # this rank's batches: i = rank, rank + world, ...
            shard.add(i, [nll_sum, n_tokens, n_correct])
        nll, n, correct = shard.totals()     # the sums over all n batches (collective)

    The totals are exactly (bit for bit) what one process gets: each batch is evaluated as a whole
    by one rank, the per-batch figures are collected by an all-reduce of a table in which every
    row has one non-zero contributor (x + 0 = x exactly in floating point), and every rank then
    adds the rows in batch order, as the single process does. A model sharded with FSDP2 runs its
    forward passes in lockstep on all ranks, so then every rank evaluates every batch itself.
    """

    def __init__(self, n: int, *, width: int, model: nn.Module | None = None) -> None:
        if n < 0 or width < 1:
            raise ValueError(f"EvalShard needs n >= 0 and width >= 1, got n={n}, width={width}")
        self.n, self.width = n, width
        self.rank, self.world = rank_and_world()
        if model is not None and is_fully_sharded(model):
            self.rank, self.world = 0, 1  # every rank evaluates everything (lockstep forwards)
        self._rows: dict[int, list[float]] = {}

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.world))

    def add(self, index: int, figures: Sequence[float]) -> None:
        if len(figures) != self.width:
            raise ValueError(f"expected {self.width} figures for batch {index}, got {len(figures)}")
        self._rows[index] = [float(f) for f in figures]

    def totals(self) -> list[float]:
        """The per-figure sums over all batches, the same on every rank."""
        if self.world > 1:
            table = torch.zeros(self.n, self.width, dtype=torch.float64)
            for i, row in self._rows.items():
                table[i] = torch.tensor(row, dtype=torch.float64)
            table = table.to(_comm_device())
            dist.all_reduce(table)
            rows = table.cpu().tolist()
        else:
            rows = [self._rows[i] for i in range(self.n)]
        sums = [0.0] * self.width
        for row in rows:
            for j, value in enumerate(row):
                sums[j] += value
        return sums


__all__ = [
    "PEER_LOST",
    "EvalShard",
    "PeerLostError",
    "barrier",
    "data_parallel",
    "gather_rng_states",
    "is_fully_sharded",
    "is_peer_failure",
    "peers_watched",
    "rank_and_world",
    "requested",
    "setup",
    "teardown",
]
