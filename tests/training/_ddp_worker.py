"""Helper for test_distributed.py: train and evaluate tiny models in one or several processes.

    python _ddp_worker.py OUT                                 # one process
    python -m torch.distributed.run --nproc-per-node 2 _ddp_worker.py OUT

Writes into OUT, per process (w = world size, r = rank):
    train-w{w}-r{r}.json   per-step losses, a digest of the weights after every step (DDP), and
                           the losses of a run resumed from the checkpoint written half-way
    fsdp-w{w}-r{r}.json    the losses with FSDP2 (two processes), and of its resumed run
    eval-w{w}.json         rank 0: evaluation figures of fixed weights (the seq2seq and LM tasks)
    weights-w{w}.pt        rank 0: the weights after training, as one process would save them
    fsdp/checkpoints/      the FSDP run's checkpoints (step 6, and step 12 of the resumed run)
    clock-w{w}-r{r}.json   (two processes) the weights after `fit` with a cosine over the time
                           budget, rank 1 pausing 0.1 s after each of its steps: the ranks' own
                           clocks disagree, the learning rate they use must not
The one-process run trains with grad_accum=2 over the two batches that the two ranks of the
two-process run take for the same step, so both see exactly the same global batch.
"""

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import torch

from aiayn.config import TrainConfig, model_preset
from aiayn.models import build_model
from aiayn.tasks.toy import ReverseLMTask, ReverseTask
from aiayn.training import distributed
from aiayn.training.trainer import Trainer

STEPS = 12  # 16 batches per epoch, 8 steps per epoch: crosses an epoch boundary (reshuffle)
OPTIONS = {"n_symbols": 6, "min_seq_len": 2, "max_seq_len": 5, "n_train": 64, "n_val": 23}


def digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def make(world: int) -> tuple[ReverseTask, torch.nn.Module, TrainConfig]:
    task = ReverseTask(OPTIONS)
    task.load(Path("."))  # the symbol vocabulary; writes nothing
    task.eval_batch_size = 5  # 23 validation examples: 5 batches, shared 3 / 2 by two ranks
    config = model_preset("tiny").replace(
        d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=32, p_drop=0.0, vocab_size=10
    )
    torch.manual_seed(0)
    model = build_model(config)
    train = TrainConfig(
        batch_size=4,  # per process
        grad_accum=2 // world,  # one process: the two batches the two ranks take
        max_steps=STEPS,
        lr_schedule="constant",
        lr=3e-3,
        warmup_steps=0,
        label_smoothing=0.1,
        eval_every=1000,
        log_every=1000,
        checkpoint_every=1000,
        device="cpu",
    )
    return task, model, train


def trainer(task, model, train, out: Path, *, fsdp: bool = False) -> Trainer:
    return Trainer(
        model=model,
        config=train,
        train_data=task.train_source(train),
        out_dir=out,
        device=torch.device("cpu"),
        d_model=16,
        fsdp=fsdp,
    )


def run_steps(t: Trainer, n: int) -> tuple[list[float], list[str]]:
    losses, digests = [], []
    for _ in range(n):
        loss_sum, _, n_targets = t.step()
        losses.append(loss_sum / n_targets)
        digests.append(digest(t.module) if not t.fsdp else "")
    return losses, digests


def main(out: Path) -> None:
    if distributed.requested():
        distributed.setup("cpu")
    rank, world = distributed.rank_and_world()
    out.mkdir(parents=True, exist_ok=True)

    # DDP (or one process): losses and weights after every step; a checkpoint half-way.
    task, model, train = make(world)
    t = trainer(task, model, train, out / f"run-w{world}")
    first, digests = run_steps(t, STEPS // 2)
    t.save()
    second, more = run_steps(t, STEPS - STEPS // 2)
    if rank == 0:
        torch.save(model.state_dict(), out / f".weights-w{world}.pt")
        os.replace(out / f".weights-w{world}.pt", out / f"weights-w{world}.pt")  # whole or absent
    t = trainer(*make(world), out / f"run-w{world}")
    assert t.resume()
    resumed, _ = run_steps(t, STEPS - STEPS // 2)
    (out / f"train-w{world}-r{rank}.json").write_text(
        json.dumps({"losses": first + second, "digests": digests + more, "resumed": resumed})
    )

    # Evaluation of fixed weights: the one-process run's trained model (it runs at the same time
    # as the two-process run), and an untrained decoder-only model for the per-position figures.
    deadline = time.monotonic() + 300
    while not (out / "weights-w1.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    model = build_model(model.config)
    model.load_state_dict(torch.load(out / "weights-w1.pt", weights_only=True))
    model.eval()
    lm = ReverseLMTask({"n_symbols": 6, "seq_len": 4, "n_val": 23})
    lm.load(Path("."))
    lm.eval_batch_size = 5
    torch.manual_seed(1)
    lm_model = build_model(
        model_preset("lm-tiny").replace(d_model=16, n_heads=2, d_ff=32, n_layers=1, vocab_size=10)
    ).eval()
    with torch.no_grad():
        figures = {**task.evaluate(model, "val"), **lm.evaluate(lm_model, "val")}
    if rank == 0:
        (out / f"eval-w{world}.json").write_text(json.dumps(figures))

    if world > 1:
        # FSDP2 (gloo on CPU): the same steps; then a run resumed from a checkpoint half-way.
        task, model, train = make(world)
        t = trainer(task, model, train, out / "fsdp", fsdp=True)
        first, _ = run_steps(t, STEPS // 2)
        t.save()
        second, _ = run_steps(t, STEPS - STEPS // 2)
        t = trainer(*make(world), out / "fsdp", fsdp=True)
        assert t.resume()
        resumed, _ = run_steps(t, STEPS - STEPS // 2)
        t.save()  # fsdp/checkpoints/step-0000012: the full weights, gathered to rank 0
        (out / f"fsdp-w{world}-r{rank}.json").write_text(
            json.dumps({"losses": first + second, "resumed": resumed})
        )

        # A schedule on the clock (cosine_over="minutes"): every rank takes rank 0's time.
        task, model, train = make(world)
        train = train.replace(
            lr_schedule="cosine", cosine_over="minutes", max_minutes=0.25, tensorboard=False,
            plots=False,
        )  # fmt: skip
        t = trainer(task, model, train, out / "clock")
        if rank == 1:  # rank 1's clock runs 0.1 s a step ahead of rank 0's
            real_step = t.step

            def slow_step():
                figures = real_step()
                time.sleep(0.1)
                return figures

            t.step = slow_step
        result = t.fit()
        (out / f"clock-w{world}-r{rank}.json").write_text(
            json.dumps({"steps": result["steps"], "digest": digest(model)})
        )
    distributed.teardown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
