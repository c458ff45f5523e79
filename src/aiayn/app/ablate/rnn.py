"""rnn-vs-transformer: recurrence against attention, at equal parameters.

The baseline (aiayn.baselines) is an LSTM encoder-decoder with attention: its encoder reads the
source one token after the other and its decoder is a loop over the target positions, so a
sequence of length L costs L steps that must run in order. The Transformer computes all positions
of a layer at once, and a token reaches any other in one attention step, where the LSTM needs as
many steps as they are apart. Three measurements, the LSTM sized to the Transformer's parameter
count (`fit_d_model`):
1. time per training step against the sequence length (copy batches of fixed length);
2. held-out accuracy against the sequence length on copy and reversal, at equal steps;
3. Multi30k de->en at equal parameters and equal minutes of training (full run only: it needs the
   data): validation loss and greedy BLEU on the first 200 validation sentences.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from aiayn.app.ablate._common import (
    Report,
    Settings,
    fmt,
    mean_std,
    seq2seq_batch,
    teacher_forced_accuracy,
    toy_config,
    train,
)
from aiayn.app.ablate._figures import Line, Panel, save_panels
from aiayn.baselines import build_baseline, fit_d_model
from aiayn.config import ModelConfig, TrainConfig
from aiayn.decoding import SearchOptions
from aiayn.models import build_model, count_parameters
from aiayn.tasks import get_task
from aiayn.training.loss import compute_loss

LSTM = "lstm-encoder-decoder"
KINDS = ("transformer", "lstm")
STEPS = (15, 200)  # training steps of the accuracy runs: quick, full
LENGTHS = ([4, 8], [8, 16, 32])  # their sequence lengths: quick, full
MULTI30K_MINUTES = 4.0  # each model's training time on Multi30k (full run only)


def build(kind: str, config: ModelConfig) -> tuple[nn.Module, ModelConfig]:
    """The Transformer of `config`, or the LSTM with the d_model that matches its parameters."""
    if kind == "transformer":
        return build_model(config), config
    target = count_parameters(build_model(config))
    lstm = fit_d_model(config.replace(arch=LSTM), target)
    return build_baseline(lstm), lstm


def step_time(model: nn.Module, batch: dict, repeats: int, device: torch.device) -> float:
    """Median seconds of one training step (forward, backward, Adam) on `batch`."""
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    batch = {k: v.to(device) for k, v in batch.items()}
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        out = compute_loss(model, batch)
        opt.zero_grad(set_to_none=True)
        (out.loss_sum / out.n_targets).backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i > 0:  # the first step warms up the allocator and the kernels
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def timing(settings: Settings) -> list[dict]:
    s = settings
    config = toy_config("encoder-decoder")
    rows = []
    for L in s.pick([4, 8], [8, 16, 32, 64, 128]):
        batch = seq2seq_batch("copy", torch.Generator().manual_seed(L), B=32, lengths=(L, L))
        row: dict = {"sequence length": L}
        for kind in KINDS:
            torch.manual_seed(0)
            model, _ = build(kind, config)
            row[f"{kind} ms/step"] = 1000 * step_time(model, batch, s.pick(2, 5), s.device)
        row["LSTM / Transformer"] = row["lstm ms/step"] / row["transformer ms/step"]
        rows.append(row)
    return rows


def accuracy_by_length(settings: Settings) -> dict[str, dict[str, list[list[float]]]]:
    """task -> kind -> per seed, held-out token accuracy at each training length."""
    s = settings
    steps, B = s.pick(*STEPS), s.pick(16, 32)
    config = toy_config("encoder-decoder")
    out: dict[str, dict[str, list[list[float]]]] = {}
    for task in ("copy", "reverse"):
        out[task] = {kind: [] for kind in KINDS}
        for kind in KINDS:
            for seed in range(s.seeds):
                row = []
                for L in s.pick(*LENGTHS):
                    torch.manual_seed(seed)
                    model, _ = build(kind, config)
                    g = torch.Generator().manual_seed(1000 + seed)
                    train(
                        model,
                        lambda _, g=g, L=L, task=task: seq2seq_batch(task, g, B=B, lengths=(L, L)),
                        steps=steps,
                        device=s.device,
                    )
                    test = seq2seq_batch(task, torch.Generator().manual_seed(99), B=256,
                                         lengths=(L, L))  # fmt: skip
                    m = teacher_forced_accuracy(model, {k: v.to(s.device) for k, v in test.items()})
                    row.append(m["token_accuracy"])
                out[task][kind].append(row)
    return out


def multi30k(settings: Settings, minutes: float) -> list[dict]:
    """Both models on Multi30k de->en for `minutes` each: validation loss and greedy BLEU."""
    s = settings
    task = get_task("multi30k", {"eval_bleu_sentences": 0})
    train_config = TrainConfig(batch_tokens=2048)
    rows = []
    with tempfile.TemporaryDirectory() as run_dir:
        fixed = task.prepare(Path(run_dir), train_config)
        base = ModelConfig(d_model=128, n_heads=4, d_ff=512, n_layers=2, p_drop=0.1, **fixed)
        source = task.train_source(train_config)
        for kind in KINDS:
            torch.manual_seed(0)
            model, config = build(kind, base)
            batches = iter(())
            epoch = 0

            def next_batch(_: int) -> dict:
                nonlocal batches, epoch
                try:
                    return next(batches)
                except StopIteration:
                    batches = iter(source.epoch_batches(epoch))
                    epoch += 1
                    return next(batches)

            h = train(
                model,
                next_batch,
                steps=10**7,
                lr=1e-3,
                warmup=200,
                device=s.device,
                seconds=60 * minutes,
            )
            with torch.no_grad():
                val_loss, val_acc = task.loss(model, "val")
                bleu = task.scores(model, "val", SearchOptions(), limit=200)["bleu"]
            rows.append(
                {
                    "model": kind,
                    "d_model": config.d_model,
                    "parameters": count_parameters(model),
                    "minutes": round(h.seconds / 60, 2),
                    "steps": len(h.losses),
                    "val loss": val_loss,
                    "val token accuracy": val_acc,
                    "greedy BLEU, first 200 val": bleu,
                }
            )
    return rows


def run(settings: Settings, out: Path) -> Report:
    s = settings
    report = Report(
        "rnn-vs-transformer",
        "An LSTM encoder-decoder against the Transformer, at equal parameters",
        "How do recurrence and attention handle time, and what does it cost and buy?",
    )
    times = timing(s)
    report.tables["Time per training step (batch 32, copy)"] = times
    acc = accuracy_by_length(s)
    lengths, steps = s.pick(*LENGTHS), s.pick(*STEPS)
    for task, kinds in acc.items():
        report.tables[f"{task}: held-out token accuracy, {steps} steps, {s.seeds} seed(s)"] = [
            {
                "sequence length": L,
                **{k: fmt(*mean_std([r[i] for r in kinds[k]])) for k in KINDS},
            }
            for i, L in enumerate(lengths)
        ]
    report.data = {"timing": times, "accuracy": acc, "lengths": lengths}
    if not s.quick:
        rows = multi30k(s, minutes=MULTI30K_MINUTES)
        report.tables["Multi30k de->en, equal parameters, equal minutes"] = rows
        report.data["multi30k"] = rows
    xs = [r["sequence length"] for r in times]
    panels = [
        Panel(
            "time per training step",
            [Line(k, xs, [r[f"{k} ms/step"] for r in times]) for k in KINDS],
            "sequence length",
            "ms per step",
            logx=True,
            logy=True,
        ),
        *[
            Panel(
                f"{task}: held-out token accuracy",
                [
                    Line(
                        k,
                        lengths,
                        [mean_std([r[i] for r in kinds[k]])[0] for i in range(len(lengths))],
                        [mean_std([r[i] for r in kinds[k]])[1] for i in range(len(lengths))],
                    )
                    for k in KINDS
                ],
                "sequence length",
                "token accuracy",
            )
            for task, kinds in acc.items()
        ],
    ]
    report.figures.append("rnn_vs_transformer.png")
    save_panels(out / "rnn_vs_transformer.png", panels, title="LSTM and Transformer", columns=3)
    first, last = times[0], times[-1]
    report.findings.append(
        f"From length {first['sequence length']} to {last['sequence length']} the LSTM's step "
        f"time grows {last['lstm ms/step'] / first['lstm ms/step']:.1f}x and the Transformer's "
        f"{last['transformer ms/step'] / first['transformer ms/step']:.1f}x; at length "
        f"{last['sequence length']} the LSTM step takes {last['LSTM / Transformer']:.1f}x as long."
    )
    for task, kinds in acc.items():
        report.findings.append(
            f"{task} at length {lengths[-1]}: Transformer "
            f"{fmt(*mean_std([r[-1] for r in kinds['transformer']]))}, LSTM "
            f"{fmt(*mean_std([r[-1] for r in kinds['lstm']]))} token accuracy after {steps} steps."
        )
    if "multi30k" in report.data:
        t, r = report.data["multi30k"]
        report.findings.append(
            f"Multi30k, {t['minutes']} / {r['minutes']} minutes: Transformer BLEU "
            f"{t['greedy BLEU, first 200 val']:.2f} ({t['steps']} steps), LSTM "
            f"{r['greedy BLEU, first 200 val']:.2f} ({r['steps']} steps)."
        )
    return report
