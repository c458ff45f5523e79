"""What every ablation shares: its settings, toy data drawn fresh each step, a small training loop
that records losses and gradient norms, teacher-forced accuracy, and the report it writes.

Notation: B batch, S source length, T target length, V vocabulary size.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from aiayn.config import ModelConfig
from aiayn.tasks.toy import BOS, EOS, N_SPECIAL, PAD, SEP
from aiayn.training.loss import compute_loss

Batch = dict[str, Tensor]


@dataclass(frozen=True)
class Settings:
    """How an experiment runs: `quick` (seconds, for tests), the number of seeds, the device."""

    quick: bool = False
    seeds: int = 3
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def pick(self, quick: Any, full: Any) -> Any:
        """`quick` in a quick run, `full` otherwise."""
        return quick if self.quick else full


@dataclass
class Report:
    """An experiment's results: a title, tables (rows of dicts), figure files and findings."""

    name: str
    title: str
    question: str
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # curves and matrices, for the JSON only


# ---------------------------------------------------------------------------------- toy data
def random_symbols(g: torch.Generator, B: int, L: int, n_symbols: int) -> Tensor:
    """(B, L) symbol ids, uniform over the n_symbols symbols (ids from N_SPECIAL)."""
    return torch.randint(N_SPECIAL, N_SPECIAL + n_symbols, (B, L), generator=g)


def seq2seq_batch(
    task: str, g: torch.Generator, *, B: int, lengths: tuple[int, int], n_symbols: int = 10
) -> Batch:
    """A batch of `copy` or `reverse` with lengths uniform in [lo, hi], right-padded:
    src (B, S), tgt_in = BOS y (B, T), tgt_out = y EOS (B, T)."""
    lo, hi = lengths
    x = random_symbols(g, B, hi, n_symbols)
    n = torch.randint(lo, hi + 1, (B,), generator=g)
    src = torch.full((B, hi), PAD)
    tgt_in = torch.full((B, hi + 1), PAD)
    tgt_out = torch.full((B, hi + 1), PAD)
    for i in range(B):
        seq = x[i, : n[i]]
        y = seq.flip(0) if task == "reverse" else seq
        src[i, : n[i]] = seq
        tgt_in[i, 0], tgt_in[i, 1 : n[i] + 1] = BOS, y
        tgt_out[i, : n[i]], tgt_out[i, n[i]] = y, EOS
    return {"src": src, "tgt_in": tgt_in, "tgt_out": tgt_out}


def reverse_lm_batch(g: torch.Generator, *, B: int, L: int, n_symbols: int = 10) -> Batch:
    """BOS x SEP reversed(x) as a language-model batch: inputs (B, 2L+1), targets (B, 2L+1)."""
    x = random_symbols(g, B, L, n_symbols)
    seq = torch.cat([torch.full((B, 1), BOS), x, torch.full((B, 1), SEP), x.flip(1)], 1)
    return {"inputs": seq[:, :-1], "targets": seq[:, 1:]}


def toy_config(arch: str, n_symbols: int = 10, **changes: Any) -> ModelConfig:
    """A CPU-sized model for the toy tasks (d_model 64, 4 heads, 2 layers, no dropout)."""
    base: dict[str, Any] = dict(
        arch=arch,
        vocab_size=N_SPECIAL + n_symbols,
        d_model=64,
        n_heads=4,
        d_ff=256,
        n_layers=2,
        max_len=256,
        p_drop=0.0,
    )
    return ModelConfig(**{**base, **changes})


# ------------------------------------------------------------------------------ training
@dataclass
class History:
    """What `train` saw: loss per step, gradient norms per layer per step, seconds taken."""

    losses: list[float] = field(default_factory=list)
    layer_grad_norms: list[list[float]] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    diverged: bool = False


def layer_parameters(model: nn.Module, stack: str) -> list[list[nn.Parameter]]:
    """The parameters of each layer of `stack` ("encoder" or "decoder"), bottom first."""
    layers = getattr(model, stack).layers
    return [list(layer.parameters()) for layer in layers]


def grad_norm(params: Sequence[nn.Parameter]) -> float:
    grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


def train(
    model: nn.Module,
    make_batch: Callable[[int], Batch],
    *,
    steps: int,
    lr: float = 1e-3,
    warmup: int = 50,
    clip: float | None = 1.0,
    device: torch.device | None = None,
    layers_of: str | None = None,
    seconds: float | None = None,
) -> History:
    """Adam (0.9, 0.98) at `lr`, reached linearly over `warmup` steps, on `make_batch(step)`.

    Stops after `steps` steps or `seconds` seconds, whichever comes first, or at a non-finite loss
    (`diverged`). With `layers_of` ("encoder" / "decoder") it records each layer's gradient norm
    (before clipping) at every step.
    """
    device = device or torch.device("cpu")
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9)
    per_layer = layer_parameters(model, layers_of) if layers_of else []
    history = History()
    start = time.perf_counter()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup) if warmup > 0 else lr
        batch = {k: v.to(device) for k, v in make_batch(step).items()}
        out = compute_loss(model, batch, pad_id=PAD)
        loss = out.loss_sum / out.n_targets.clamp(min=1)
        if not torch.isfinite(loss):
            history.diverged = True
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if per_layer:
            history.layer_grad_norms.append([grad_norm(ps) for ps in per_layer])
        total = nn.utils.clip_grad_norm_(model.parameters(), clip if clip else math.inf)
        history.grad_norms.append(float(total))
        opt.step()
        history.losses.append(loss.item())
        if seconds is not None and time.perf_counter() - start > seconds:
            break
    history.seconds = time.perf_counter() - start
    model.eval()
    return history


def logits_of(model: nn.Module, batch: Batch) -> Tensor:
    """(B, T, V) logits of a seq2seq batch (src, tgt_in) or a language-model batch (inputs)."""
    return model(batch["src"], batch["tgt_in"]) if "src" in batch else model(batch["inputs"])


@torch.no_grad()
def teacher_forced_accuracy(model: nn.Module, batch: Batch) -> dict[str, float]:
    """Token accuracy, whole-sequence accuracy and mean NLL, with the true prefix as input."""
    model.eval()
    logits = logits_of(model, batch)  # (B, T, V)
    target = batch["tgt_out"] if "src" in batch else batch["targets"]  # (B, T)
    real = target != PAD
    hit = logits.argmax(-1) == target
    nll = nn.functional.cross_entropy(
        logits.flatten(0, 1).float(), target.flatten(), ignore_index=PAD, reduction="sum"
    )
    n = max(int(real.sum()), 1)
    return {
        "token_accuracy": float((hit & real).sum()) / n,
        "sequence_accuracy": float((hit | ~real).all(-1).float().mean()),
        "loss": float(nll) / n,
    }


def train_reversal(
    model: nn.Module,
    *,
    seed: int,
    B: int,
    lengths: tuple[int, int],
    steps: int,
    device: torch.device | None,
) -> History:
    """Train `model` on fresh reversal batches drawn from the generator seeded 1000 + seed."""
    g = torch.Generator().manual_seed(1000 + seed)
    return train(
        model,
        lambda _, g=g: seq2seq_batch("reverse", g, B=B, lengths=lengths),
        steps=steps,
        device=device,
    )


def reversal_test_scores(
    model: nn.Module, *, lengths: tuple[int, int], device: torch.device | None
) -> dict[str, float]:
    """`teacher_forced_accuracy` on the fixed held-out reversal batch (512 sequences, seed 99)."""
    test = seq2seq_batch("reverse", torch.Generator().manual_seed(99), B=512, lengths=lengths)
    return teacher_forced_accuracy(model, {k: v.to(device) for k, v in test.items()})


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and (sample) standard deviation; 0 spread for a single value."""
    t = torch.tensor([float(v) for v in values], dtype=torch.float64)
    return float(t.mean()), float(t.std()) if len(values) > 1 else 0.0


def fmt(mean: float, std: float, digits: int = 3) -> str:
    """'0.912 ± 0.004', or '0.912' for a single seed's zero spread."""
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if std > 0 else f"{mean:.{digits}f}"


def smooth(values: Sequence[float], width: int) -> list[float]:
    """Running mean over `width` steps (the first ones over what is there)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= width:
            total -= values[i - width]
        out.append(total / min(i + 1, width))
    return out


# ------------------------------------------------------------------------------- writing
def machine() -> str:
    """The machine in one line: processor, cores, threads torch uses, torch version, and the
    load average when the run ended (other work on a shared machine slows the timings)."""
    proc = platform.processor() or platform.machine()
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (
        f"{platform.system()} {proc}, {os.cpu_count()} cores, torch {torch.__version__} on "
        f"{torch.get_num_threads()} thread(s){load}"
    )


# pathspecs of what experiments write, excluded from the working tree's "changes"
RESULTS = (":(top,exclude)docs", ":(top,exclude)benchmarks/results")


def commit() -> str:
    """The git commit of the working tree (with '+changes' when it is not clean), or 'unknown'.
    Results the experiments write (docs/, benchmarks/results/) do not count as changes."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)", *RESULTS],
            cwd=here,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (sha + ("+changes" if dirty else "")) if sha else "unknown"


def _cell(value: Any) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of dicts (the first row's keys are the columns) as a Markdown table."""
    if not rows:
        return "(no rows)\n"
    cols = list(rows[0])
    lines = ["| " + " | ".join(map(_cell, cols)) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_report(
    report: Report, out: Path, *, command: str, settings: Settings, seconds: float
) -> list[Path]:
    """`results.json` and `results.md` (with the command, the commit and the machine) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": command,
        "commit": commit(),
        "machine": machine(),
        "device": str(settings.device),
        "quick": settings.quick,
        "seeds": settings.seeds,
        "seconds": round(seconds, 1),
    }
    record = {"name": report.name, "title": report.title, "question": report.question, **meta}
    record |= {"findings": report.findings, "tables": report.tables, "figures": report.figures}
    record["data"] = report.data
    json_path = out / "results.json"
    json_path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    md = [f"# {report.title}", "", report.question, ""]
    md += [f"Command: `{command}`  ", f"Commit: `{meta['commit']}`  "]
    md += [f"Machine: {meta['machine']}, device {meta['device']}  "]
    md += [f"Took {meta['seconds']} s with {settings.seeds} seed(s)", ""]
    if report.findings:
        md += ["## Findings", "", *[f"- {f}" for f in report.findings], ""]
    for title, rows in report.tables.items():
        md += [f"## {title}", "", markdown_table(rows)]
    for fig in report.figures:
        md += [f"![{fig}]({fig})", ""]
    md_path = out / "results.md"
    md_path.write_text("\n".join(md), encoding="utf-8")
    return [json_path, md_path]
