"""Training state: where a run stands, and how it is saved into a checkpoint and restored.

A checkpoint (aiayn.training.checkpoint) holds the weights and `state.pt`: the step, the data
position (epoch, batch index), early-stopping bookkeeping, the optimiser and grad-scaler state,
and every random generator. Because the batch order is a pure function of (seed, epoch), that is
all a resumed run needs to continue exactly where the interrupted one stopped: same batches, same
dropout masks, same optimiser moments.

Under torchrun each rank keeps its own generators (its own dropout masks), so all of them are
saved; with FSDP rank 0 gathers the full weights and optimiser state to write one ordinary
checkpoint, and scatters them back on resume.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aiayn.errors import AiaynError
from aiayn.training import distributed, fsdp
from aiayn.training.checkpoint import (
    intact_checkpoints,
    list_checkpoints,
    load_checkpoint,
    load_weights,
    read_state,
    save_checkpoint,
)
from aiayn.training.integrity import DamagedFileError

log = logging.getLogger(__name__)


@dataclass
class TrainState:
    step: int = 0  # optimiser steps taken
    epoch: int = 0
    batch_index: int = 0  # next batch of this epoch (in this rank's shard)
    best_value: float | None = None
    bad_evals: int = 0  # evaluations since the best one (early stopping)
    seconds: float = 0.0  # training time so far, summed over resumed runs
    skipped: int = 0  # steps passed over for a non-finite loss or gradient (nonfinite=skip)
    skipped_in_a_row: int = 0


def rng_state(device: torch.device) -> dict[str, Any]:
    """Every random generator that training draws from (all ranks' under torchrun)."""
    if distributed.rank_and_world()[1] > 1:
        return {"rng_ranks": distributed.gather_rng_states(device)}
    state: dict[str, Any] = {"rng_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["rng_cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], *, device: torch.device, seed: int) -> None:
    """Set the generators back; with a different process count, reseed and say so."""
    rank, world = distributed.rank_and_world()
    ranks = state.get("rng_ranks")
    if ranks is None and world == 1:
        torch.set_rng_state(state["rng_cpu"])
        if "rng_cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
    elif ranks is not None and len(ranks) == world:
        torch.set_rng_state(ranks[rank]["cpu"])
        if "cuda" in ranks[rank] and device.type == "cuda":
            torch.cuda.set_rng_state(ranks[rank]["cuda"], device)
    else:
        log.warning(
            "resuming with %d process(es) a run checkpointed with %d: training continues, "
            "but its dropout masks differ from those of an uninterrupted run",
            world,
            state.get("world_size", 1),
        )
        torch.manual_seed(seed + rank + state["step"])


class Checkpoints:
    """Writes and restores the checkpoints of one run (`checkpoint_dir`).

    `module` is the plain model, `model` what trains (the same module, a DDP wrapper, or an FSDP
    sharded module). Call `save` and `resume` on every rank: under torchrun they gather and
    scatter state collectively; rank 0 alone touches files.
    """

    def __init__(
        self,
        checkpoint_dir: Path,
        *,
        keep: int,
        module: nn.Module,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        device: torch.device,
        seed: int,
        twin: nn.Module | None = None,
    ) -> None:
        self.directory = Path(checkpoint_dir)
        self.keep = keep
        self.module, self.model = module, model
        self.optimizer, self.scaler = optimizer, scaler
        self.device, self.seed = device, seed
        self.fsdp = distributed.is_fully_sharded(model)
        self.twin = twin  # FSDP: rank 0's full copy of the model, to write checkpoints from
        self.rank, self.world_size = distributed.rank_and_world()
        self._saved: tuple[int, Path | None] | None = None

    @staticmethod
    def fsdp_twin(model: nn.Module) -> nn.Module | None:
        """Rank 0's plain CPU copy of a model about to be sharded (None on the other ranks)."""
        return copy.deepcopy(model).cpu() if distributed.rank_and_world()[0] == 0 else None

    def full_model(self) -> nn.Module:
        """The model with all its weights, for writing (FSDP: gathered into rank 0's twin)."""
        if not self.fsdp:
            return self.module
        fsdp.gather_weights(self.model, into=self.twin)
        return self.twin if self.twin is not None else self.module

    def save(self, state: TrainState) -> Path | None:
        """Write a checkpoint of `state.step` (once per step). Rank 0 returns its path."""
        if self._saved is not None and self._saved[0] == state.step:
            return self._saved[1]  # this step is on disk already (saved as the best)
        optimizer = (
            fsdp.gather_optimizer_state(self.model, self.optimizer)
            if self.fsdp
            else self.optimizer.state_dict()
        )
        payload = {
            **asdict(state),
            "world_size": self.world_size,
            "fsdp": self.fsdp,
            "optimizer": optimizer,
            "scaler": self.scaler.state_dict(),
            **rng_state(self.device),
        }
        model = self.full_model()
        path = None
        if self.rank == 0:
            path = save_checkpoint(
                self.directory, step=state.step, model=model, state=payload, keep=self.keep
            )
        self._saved = (state.step, path)
        return path

    def resume(self) -> TrainState | None:
        """Load the newest intact checkpoint into the model, optimiser, scaler and generators;
        return its state, or None when the run has no checkpoint yet.

        A damaged checkpoint (aiayn.training.integrity) is passed over with a warning naming the
        file, and the one resumed from is named; when every one is damaged, the error says so.
        Nothing is deleted or rewritten here."""
        if not list_checkpoints(self.directory):
            return None
        intact, damaged = intact_checkpoints(self.directory)
        for path in intact:
            try:
                state = self._load(path)
            except DamagedFileError as e:
                damaged.append(str(e))
                continue
            if damaged:
                for reason in damaged:
                    log.warning("passed over a damaged checkpoint: %s", reason)
                log.warning("resuming from %s, the newest intact checkpoint", path)
            break
        else:
            raise DamagedFileError(
                f"every checkpoint in {self.directory} is damaged ({damaged[0]}); start the run "
                "again in a new --out, or restore the checkpoints from a backup"
            )
        return self._restore(path, state)

    def _load(self, path: Path) -> dict[str, Any]:
        """Read checkpoint `path` into the model and optimiser; return its training state."""
        if self.fsdp:
            return self._load_sharded(path)
        state = load_checkpoint(path, self.module)
        if state.get("fsdp", False):
            raise AiaynError(f"{path} was written by an FSDP run: resume it with --fsdp")
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (KeyError, ValueError) as e:
            message = f"{path / 'state.pt'} holds no usable optimiser state ({e})"
            raise DamagedFileError(message) from None
        return state

    def _restore(self, path: Path, state: dict[str, Any]) -> TrainState:
        self.scaler.load_state_dict(state["scaler"])
        restore_rng(state, device=self.device, seed=self.seed)
        batch_index = state["batch_index"]
        saved_world = state.get("world_size", 1)
        if saved_world != self.world_size:
            # The ranks had consumed batch_index * saved_world batches of the epoch together;
            # continue there (repeating at most world_size - 1 of them).
            batch_index = batch_index * saved_world // self.world_size
        log.info("resumed from %s (step %d)", path, state["step"])
        return TrainState(
            step=state["step"],
            epoch=state["epoch"],
            batch_index=batch_index,
            best_value=state["best_value"],
            bad_evals=state["bad_evals"],
            seconds=state["seconds"],
            skipped=state.get("skipped", 0),
            skipped_in_a_row=state.get("skipped_in_a_row", 0),
        )

    def _load_sharded(self, path: Path) -> dict[str, Any]:
        """FSDP resume: rank 0 reads the full weights and optimiser state and scatters them."""
        # Memory-mapped: ranks other than 0 read only the small entries, not the optimiser.
        state = read_state(path, mmap=True)
        if not state.get("fsdp", False):
            raise AiaynError(f"{path} was not written by an FSDP run: resume it without --fsdp")
        if self.twin is not None:
            load_weights(self.twin, path / "model.safetensors")
        optimizer = state["optimizer"] if self.twin is not None else {}
        fsdp.scatter_state(self.model, self.optimizer, self.twin, optimizer)
        return state


__all__ = ["Checkpoints", "TrainState", "restore_rng", "rng_state"]
