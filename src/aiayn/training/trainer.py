"""One training loop for every model and task.

The loop knows nothing about translation or language modelling: a task hands it a `BatchSource`
(the batches of each epoch, in a fixed order for a given seed and epoch), an `evaluate` function
and, optionally, its own loss. Because the batch order is a pure function of (seed, epoch), the
data position is just (epoch, batch index), and a resumed run continues exactly where the
interrupted one stopped (aiayn.training.state).

Under torchrun each process trains on its own shard of every epoch's batches and
DistributedDataParallel averages the gradients (with `fsdp=True`, FSDP2 shards the model too);
only rank 0 writes files. Every decision that ends the loop or writes a checkpoint is taken the
same way on every rank, because each involves collectives (see aiayn.training.distributed).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch import nn

from aiayn.config import TrainConfig
from aiayn.errors import AiaynError
from aiayn.training import distributed, nonfinite
from aiayn.training.checkpoint import mark_best, save_weights
from aiayn.training.device import autocast
from aiayn.training.fsdp import fully_shard_model
from aiayn.training.loss import Batch, LossOutput, compute_loss, count_targets
from aiayn.training.optim import build_optimizer, freeze_parameters
from aiayn.training.run_log import RunLog
from aiayn.training.schedules import learning_rate
from aiayn.training.state import Checkpoints, TrainState

log = logging.getLogger(__name__)


class BatchSource(Protocol):
    """The training batches of each epoch, in an order fixed by the epoch number (and a seed)."""

    def epoch_batches(self, epoch: int) -> Sequence[Batch]: ...


LossFn = Callable[[nn.Module, Batch], LossOutput]
EvaluateFn = Callable[[nn.Module], dict[str, float]]


def _to_device(batch: Batch, device: torch.device) -> Batch:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


class Trainer:
    """Trains `model` on `train_data` as `config` says, writing everything into `out_dir`.

    `loss_fn(model, batch)` scores a batch (default: `compute_loss` with the config's label
    smoothing, spread over every id but `smoothing_exclude`). Under torchrun the model is wrapped
    in DistributedDataParallel, or with `fsdp=True` sharded in place with FSDP2 (pass it still
    on the CPU: `fully_shard` moves each shard to `device`).
    """

    def __init__(
        self,
        *,
        model: nn.Module,
        config: TrainConfig,
        train_data: BatchSource,
        out_dir: Path,
        device: torch.device,
        d_model: int,
        pad_id: int = 0,
        smoothing_exclude: Sequence[int] = (),
        evaluate: EvaluateFn | None = None,
        loss_fn: LossFn | None = None,
        best_metric: str = "val_loss",
        best_mode: str = "min",
        fsdp: bool = False,
    ) -> None:
        if best_mode not in ("min", "max"):
            raise ValueError(f"best_mode must be 'min' or 'max', got {best_mode!r}")
        self.config = config
        self.device = device
        self.out_dir = Path(out_dir)
        self.train_data = train_data
        self.evaluate_fn = evaluate
        self.d_model = d_model
        self.pad_id = pad_id
        self.best_metric = best_metric
        self.best_mode = best_mode
        self.rank, self.world_size = distributed.rank_and_world()
        self.is_main = self.rank == 0
        self.fsdp = fsdp
        self.frozen = 0  # parameter values that `config.freeze` keeps fixed
        if config.freeze is not None:  # before DDP / FSDP see which parameters train
            self.frozen = freeze_parameters(model, config.freeze)
        twin = None
        if fsdp:
            if config.precision == "fp16":
                raise AiaynError("FSDP trains in fp32 or bf16; fp16 needs a sharded grad scaler")
            twin = Checkpoints.fsdp_twin(model)
            self.model = fully_shard_model(model, device)
        else:
            self.model = model.to(device)
        self.module = self.model  # the plain module (self.model may become a DDP wrapper)
        if self.world_size > 1 and not fsdp:
            self.model = distributed.data_parallel(self.model, device)
        if config.compile:  # the training forward and backward; evaluation runs the plain module
            self.model = torch.compile(self.model, backend=config.compile_backend)
        if loss_fn is None:
            smoothing, exclude = config.label_smoothing, tuple(smoothing_exclude)
            if config.smooth_over_specials:
                exclude = ()

            def loss_fn(m: nn.Module, b: Batch) -> LossOutput:
                return compute_loss(
                    m, b, label_smoothing=smoothing, pad_id=pad_id, smoothing_exclude=exclude
                )

        self.loss_fn = loss_fn
        self.optimizer = build_optimizer(
            list(self.module.named_parameters()),
            config,
            fused=not fsdp and device.type in ("cpu", "cuda"),
        )
        self.scaler = torch.amp.GradScaler(
            device.type, enabled=config.precision == "fp16" and device.type == "cuda"
        )
        self.state = TrainState()
        self.checkpoints = Checkpoints(
            self.out_dir / "checkpoints",
            keep=config.keep_checkpoints,
            module=self.module,
            model=self.model,
            optimizer=self.optimizer,
            scaler=self.scaler,
            device=device,
            seed=config.seed,
            twin=twin,
        )
        self.last_step_skipped = False  # the last step was passed over (nonfinite=skip)
        self.run_log = RunLog(
            self.out_dir, enabled=self.is_main, tensorboard=config.tensorboard, plots=config.plots
        )

    def _schedule_lr(self, step: int | None = None) -> float:
        """The schedule's rate at `step`, by default the last one taken, at the training time so
        far (a parameter group with an `lr_scale` runs at a share of it)."""
        step = self.state.step if step is None else step
        return learning_rate(step, self.config, d_model=self.d_model, seconds=self.state.seconds)

    def save(self) -> Path | None:
        """Write a checkpoint of the current step. Call it on every rank (under torchrun it
        gathers state from all of them); rank 0 writes and returns the path, the others None."""
        return self.checkpoints.save(self.state)

    def resume(self) -> bool:
        """Load the latest checkpoint of `out_dir`, if any. Returns whether one was found."""
        state = self.checkpoints.resume()
        if state is not None:
            self.state = state
        return state is not None

    # ----------------------------------------------------------------------------- data
    def _shard(self, batches: Sequence[Batch]) -> Sequence[Batch]:
        """This rank's batches of an epoch: every world_size-th one, the same count on each rank
        (the tail that cannot be shared evenly waits for the next epoch's reshuffle)."""
        if self.world_size == 1:
            return batches
        per_rank = len(batches) // self.world_size
        return batches[self.rank : per_rank * self.world_size : self.world_size]

    def _next_batches(self, n: int) -> list[Batch]:
        """The next `n` batches, moving to the next epoch when this one runs out."""
        out: list[Batch] = []
        empty_epochs = 0
        while len(out) < n:
            batches = self._shard(self.train_data.epoch_batches(self.state.epoch))
            if self.state.batch_index >= len(batches):
                self.state.epoch += 1
                self.state.batch_index = 0
                empty_epochs += 1
                if empty_epochs > 1:
                    raise ValueError("the training data gives no batches (too little data?)")
                continue
            empty_epochs = 0
            out.append(batches[self.state.batch_index])
            self.state.batch_index += 1
        return out

    # ----------------------------------------------------------------------------- steps
    def train_step(self, batches: list[Batch]) -> tuple[float, float, float]:
        """One optimiser step over `batches` (gradient accumulation). Returns the summed loss,
        the summed un-smoothed NLL and the number of targets, over all processes."""
        self.model.train()
        batches = [_to_device(b, self.device) for b in batches]
        n_local = sum(count_targets(b, self.pad_id) for b in batches)
        n_total = torch.as_tensor(n_local, dtype=torch.float64, device=self.device)
        if self.world_size > 1:
            dist.all_reduce(n_total)
        # Normalise by the targets of the whole step, over all micro-batches and processes; DDP
        # averages gradients over processes, so multiply back by the world size.
        scale = self.world_size / n_total.clamp(min=1).item()
        loss_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        nll_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        for i, batch in enumerate(batches):
            last = i == len(batches) - 1
            with self._gradient_sync(last):
                with autocast(self.device, self.config.precision):
                    out = self.loss_fn(self.model, batch)
                self.scaler.scale(out.loss_sum * scale).backward()
            loss_sum += out.loss_sum.detach().double()
            nll_sum += out.nll_sum.detach().double()
        grad_norm = nonfinite.gradient_norm(
            self.module.parameters(),
            clip=self.config.clip_grad_norm,
            optimizer=self.optimizer,
            scaler=self.scaler,
        )
        if self.world_size > 1:
            totals = torch.stack([loss_sum, nll_sum])
            dist.all_reduce(totals)
            loss_sum, nll_sum = totals[0], totals[1]
        finite = torch.isfinite(loss_sum)
        if grad_norm is not None:
            finite &= torch.isfinite(grad_norm)
        self.last_step_skipped = not bool(finite)  # the step's one host synchronisation
        if self.last_step_skipped:
            self.optimizer.zero_grad(set_to_none=True)
            nonfinite.handle(
                self.state,
                mode=self.config.nonfinite,
                loss=loss_sum.item(),
                grad_norm=None if grad_norm is None else grad_norm.item(),
                checkpoint_dir=self.checkpoints.directory,
            )
            return 0.0, 0.0, 0.0
        self.state.skipped_in_a_row = 0
        lr = self._schedule_lr(self.state.step + 1)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        return loss_sum.item(), nll_sum.item(), n_total.item()

    def _gradient_sync(self, sync: bool) -> contextlib.AbstractContextManager:
        """Gradients are averaged over processes on the last micro-batch of a step only."""
        if self.fsdp:
            self.model.set_requires_gradient_sync(sync)
            return contextlib.nullcontext()
        if self.world_size == 1 or sync:
            return contextlib.nullcontext()
        return self.model.no_sync()

    def step(self) -> tuple[float, float, float]:
        """One optimiser step on the next `grad_accum` batches of this rank's shard; returns
        what `train_step` returns."""
        return self.train_step(self._next_batches(self.config.grad_accum))

    def evaluate(self) -> dict[str, float]:
        """The evaluation figures, the same on every rank."""
        if self.evaluate_fn is None:
            return {}
        was_training = self.module.training
        self.module.eval()
        try:
            # Evaluate with the numerics of training (bf16 autocast evaluates in about half the
            # time on a CPU); `aiayn eval` scores a saved run in fp32.
            with torch.no_grad(), autocast(self.device, self.config.precision):
                metrics = self.evaluate_fn(self.module)
        finally:
            self.module.train(was_training)
        if self.world_size > 1:
            # The ranks decide together what to save and when to stop: they must agree on the
            # figures even if an evaluation does not share its work (each rank ran it all).
            box = [metrics]
            dist.broadcast_object_list(box, src=0)
            metrics = box[0]
        return metrics

    def _out_of_time(self, budget: float) -> bool:
        """Whether the time budget is spent. Under torchrun every rank first takes rank 0's
        training time, so that they stop together and a schedule that runs on the clock
        (cosine_over="minutes") gives them all the same learning rate."""
        if self.world_size > 1:
            seconds = torch.tensor([self.state.seconds], dtype=torch.float64, device=self.device)
            dist.broadcast(seconds, src=0)
            self.state.seconds = float(seconds.item())
        return self.state.seconds >= budget

    def _is_better(self, value: float) -> bool:
        best = self.state.best_value
        if best is None:
            return True
        return value < best if self.best_mode == "min" else value > best

    # ----------------------------------------------------------------------------- loop
    def fit(self, *, resume: bool = False) -> dict[str, Any]:
        """Train until max_steps, max_epochs, the time budget or early stopping; return a summary
        of the run (steps, seconds, last evaluation, why it stopped)."""
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        resumed = self.resume() if resume else False
        self.run_log.start(resumed_at=self.state.step if resumed else None)
        config = self.config
        budget = None if config.max_minutes is None else config.max_minutes * 60.0
        progress = self.run_log.progress(total=config.max_steps, initial=self.state.step)
        window_loss = window_targets = 0.0
        window_start = time.perf_counter()
        last_eval: dict[str, float] = {}
        stopped = "max_steps"
        start = time.perf_counter() - self.state.seconds
        try:
            while self.state.step < config.max_steps:
                if config.max_epochs is not None and self.state.epoch >= config.max_epochs:
                    stopped = "max_epochs"
                    break
                if budget is not None and self._out_of_time(budget):
                    stopped = "max_minutes"
                    break
                loss_sum, _, n = self.step()
                self.state.seconds = time.perf_counter() - start
                if self.last_step_skipped:  # nonfinite=skip passed over it: no step was taken
                    continue
                window_loss += loss_sum
                window_targets += n
                step = self.state.step
                progress.update(1)
                if step % config.log_every == 0 or step == config.max_steps:
                    elapsed = time.perf_counter() - window_start
                    train_loss = window_loss / max(window_targets, 1.0)
                    self.run_log.record(
                        {
                            "step": step,
                            "epoch": self.state.epoch,
                            "train_loss": train_loss,
                            "lr": self._schedule_lr(),
                            "targets_per_second": window_targets / max(elapsed, 1e-9),
                            "seconds": self.state.seconds,
                        }
                    )
                    progress.set_postfix(loss=f"{train_loss:.3f}")
                    window_loss = window_targets = 0.0
                    window_start = time.perf_counter()
                if step % config.eval_every == 0:
                    last_eval = self._evaluate_and_track(step)
                    if (
                        config.early_stopping_patience is not None
                        and self.state.bad_evals >= config.early_stopping_patience
                    ):
                        stopped = "early_stopping"
                        break
                if step % config.checkpoint_every == 0:
                    self.save()
        finally:
            progress.close()
        if self.state.step % config.eval_every != 0 or not last_eval:
            last_eval = self._evaluate_and_track(self.state.step)
        self.save()
        final = self.checkpoints.full_model()
        if self.is_main:
            save_weights(final, self.out_dir / "model.safetensors")
        self.run_log.close()
        return {
            "steps": self.state.step,
            "epochs": self.state.epoch,
            "seconds": self.state.seconds,
            "stopped": stopped,
            **({"skipped_steps": self.state.skipped} if self.state.skipped else {}),
            **last_eval,
        }

    def _evaluate_and_track(self, step: int) -> dict[str, float]:
        metrics = self.evaluate()
        if not metrics:
            return {}
        self.run_log.record({"step": step, **metrics})
        value = metrics.get(self.best_metric)
        if value is not None and math.isfinite(value):
            if self._is_better(value):
                self.state.best_value = value
                self.state.bad_evals = 0
                path = self.save()
                if path is not None:  # rank 0
                    mark_best(
                        self.checkpoints.directory,
                        name=path.name,
                        metric=self.best_metric,
                        value=value,
                        step=step,
                    )
            else:
                self.state.bad_evals += 1
        return metrics
