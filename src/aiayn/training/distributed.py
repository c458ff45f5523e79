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

A rank that dies ends the job: torchrun stops the others, and `launch` reports the failure in one
line. Checkpoints are written atomically, so `--resume` continues from the last one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Iterator, Sequence

import torch
import torch.distributed as dist
from torch import nn

from aiayn.errors import AiaynError

log = logging.getLogger(__name__)

# Set by `launch` for its workers: they hand their error to the launcher instead of printing it.
LAUNCHED_ENV = "AIAYN_LAUNCHED"
PEER_LOST = "lost contact with the other processes"


class WorkerFailedError(AiaynError):
    """A worker of a multi-process run failed; `exit_code` is what the command should return."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class PeerLostError(AiaynError):
    """This rank's collective failed because another rank died (it is not the first cause)."""


# --------------------------------------------------------------------------------- process group
def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return rank_and_world()[0] == 0


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


# --------------------------------------------------------------------------------- evaluation
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


# --------------------------------------------------------------------------------- FSDP2
def is_fully_sharded(model: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


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

    from aiayn.nn.decoder import DecoderLayer
    from aiayn.nn.encoder import EncoderLayer

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


# --------------------------------------------------------------------------------- launcher
def hand_error_to_launcher(message: str) -> None:
    """In a worker: record `message` where torchrun's agent reads it (TORCHELASTIC_ERROR_FILE)."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"message": message, "timestamp": int(time.time())}, f)


def _without_nproc(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def describe_failures(failures: dict) -> tuple[str, int]:
    """One line for the first cause among torchrun's failed workers, and the exit code.

    `failures` maps global rank -> ProcessFailure. The first cause is a worker killed by a signal
    other than the SIGTERM torchrun sends the survivors, else one that failed on its own (not by
    losing its peers), else the earliest.
    """

    def priority(item: tuple) -> tuple:
        rank, f = item
        killed = f.exitcode < 0 and f.exitcode != -signal.SIGTERM
        own = f.exitcode > 0 and PEER_LOST not in str(f.message)
        return (0 if killed else 1 if own else 2, f.timestamp, rank)

    rank, f = min(failures.items(), key=priority)
    resume = "; resume from the last checkpoint with the same command and --resume"
    if f.exitcode < 0:
        return (
            f"rank {rank} (pid {f.pid}) was killed by {f.signal_name()}, so the run stopped"
            + resume,
            128 - f.exitcode,
        )
    if f.error_file != "<N/A>" and isinstance(f.message, str):  # the worker's own error
        return f.message, f.exitcode
    return f"rank {rank} failed with exit code {f.exitcode} (its traceback is above)", f.exitcode


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def launch(nproc: int, argv: Sequence[str]) -> int:
    """Run `aiayn <argv>` (minus `--nproc`) as `nproc` processes on this machine; return 0.

    This is `torchrun --standalone --nproc-per-node N -m aiayn ...`: torchrun's own entry point
    runs in this process, which becomes the elastic agent watching the workers (that is how it
    learns which worker failed, and how). Each worker gets OMP_NUM_THREADS = cores / N unless set.

    A failed worker raises `WorkerFailedError` with one line naming the first cause; its exit
    code is the worker's own (2 for a user error, as without --nproc; 1 for a crash), or
    128 + N for a worker killed by signal N (137 for SIGKILL), as a shell reports it.
    """
    if not isinstance(nproc, int) or nproc < 1:
        raise AiaynError(f"--nproc must be a positive integer, got {nproc!r}")
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    args = ["--standalone", f"--nproc-per-node={nproc}", "-m", "aiayn", *_without_nproc(argv)]
    env = {LAUNCHED_ENV: "1"}
    if "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    # The agent logs each failure at length (each of its modules' loggers has its own level);
    # the one line of WorkerFailedError replaces that, unless asked for details (-v).
    quiet = not log.isEnabledFor(logging.INFO)
    elastic = [
        logging.getLogger(name)
        for name in ["torch.distributed.elastic", *logging.Logger.manager.loggerDict]
        if name.startswith("torch.distributed.elastic")
    ]
    levels = [logger.level for logger in elastic]
    try:
        for logger in elastic if quiet else []:
            logger.setLevel(logging.CRITICAL)
        with _environment(**env):
            torchrun.run(torchrun.parse_args(args))
    except ChildFailedError as e:
        message, code = describe_failures(e.failures)
        raise WorkerFailedError(message, code) from None
    except SignalException as e:
        if e.sigval == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise WorkerFailedError(f"stopped by {e.sigval.name}", 128 + int(e.sigval)) from None
    finally:
        for logger, level in zip(elastic, levels, strict=True):
            logger.setLevel(level)
    return 0


__all__ = [
    "EvalShard",
    "PeerLostError",
    "WorkerFailedError",
    "barrier",
    "check_fsdp",
    "describe_failures",
    "fully_shard_model",
    "gather_optimizer_state",
    "gather_rng_states",
    "gather_weights",
    "hand_error_to_launcher",
    "is_fully_sharded",
    "is_main",
    "launch",
    "rank_and_world",
    "requested",
    "scatter_state",
    "setup",
    "teardown",
]
