"""no-residual: a deep stack with and without its skip connections, and where the LayerNorm sits.

1. A 6-layer decoder-only model (the paper's post-norm) trained on reverse-lm with and without
   the residual connections: loss curves, and the gradient norm of each layer's parameters. With
   x + Sublayer(x), the gradient reaching a layer has a direct path from the loss; without it, it
   must pass through every layer above, and is multiplied by each one's Jacobian on the way.
2. Post-norm (LayerNorm(x + Sublayer(x)), the paper) against pre-norm (x + Sublayer(LayerNorm(x)))
   in a deeper stack, with and without learning-rate warmup, and without gradient clipping (which
   would hide an unstable start).
"""

from __future__ import annotations

from pathlib import Path

import torch

from aiayn.app.ablate._common import (
    History,
    Report,
    Settings,
    fmt,
    mean_std,
    reverse_lm_batch,
    smooth,
    teacher_forced_accuracy,
    toy_config,
    train,
)
from aiayn.app.ablate._figures import Line, Panel, save_panels
from aiayn.models import build_model

L_SEQ = 8  # reverse-lm's sequence length: the second half (after SEP) is learnable


def _run(
    settings: Settings, seed: int, *, steps: int, lr: float, warmup: int, clip: float | None, **cfg
) -> tuple[History, dict[str, float]]:
    s = settings
    L = s.pick(4, L_SEQ)
    torch.manual_seed(seed)
    model = build_model(toy_config("decoder-only", max_len=2 * L + 2, **cfg))
    g = torch.Generator().manual_seed(1000 + seed)
    h = train(
        model,
        lambda _: reverse_lm_batch(g, B=s.pick(16, 64), L=L),
        steps=steps,
        lr=lr,
        warmup=warmup,
        clip=clip,
        device=s.device,
        layers_of="decoder",
    )
    test = reverse_lm_batch(torch.Generator().manual_seed(99), B=512, L=L)
    test = {k: v.to(s.device) for k, v in test.items()}
    with torch.no_grad():
        hit = model(test["inputs"]).argmax(-1) == test["targets"]
    m = teacher_forced_accuracy(model, test)
    m["second_half"] = float(hit[:, L + 1 :].float().mean())
    return h, m


def _layer_means(rs: list[tuple[History, dict]], depth: int, steps: slice) -> list[float]:
    """Each layer's gradient norm, averaged over the `steps` of each run, then over the runs."""
    out = []
    for i in range(depth):
        per_run = [[norms[i] for norms in h.layer_grad_norms[steps]] for h, _ in rs]
        out.append(sum(sum(v) / max(len(v), 1) for v in per_run) / len(per_run))
    return out


def _tail(values: list[float], n: int = 20) -> float:
    return sum(values[-n:]) / max(len(values[-n:]), 1) if values else float("nan")


def run(settings: Settings, out: Path) -> Report:
    s = settings
    depth, steps = s.pick(3, 6), s.pick(25, 400)
    report = Report(
        "no-residual",
        "Skip connections, and post-norm against pre-norm",
        "Why is every sub-layer wrapped in a residual connection, and what happens without?",
    )
    runs: dict[str, list[tuple[History, dict]]] = {}
    for residual in (True, False):
        key = "with skip connections" if residual else "without"
        runs[key] = [
            _run(
                s,
                seed,
                steps=steps,
                lr=1e-3,
                warmup=50,
                clip=1.0,
                n_layers=depth,
                residual=residual,
            )  # fmt: skip
            for seed in range(s.seeds)
        ]
    early = min(20, steps)
    rows = []
    grads: dict[str, dict[str, list[float]]] = {}
    for key, rs in runs.items():
        per_layer_start = _layer_means(rs, depth, slice(0, early))
        per_layer_end = _layer_means(rs, depth, slice(-early, None))
        grads[key] = {"first_steps": per_layer_start, "last_steps": per_layer_end}
        rows.append(
            {
                "stack": key,
                "final training loss": fmt(*mean_std([_tail(h.losses) for h, _ in rs])),
                "second-half accuracy (held out)": fmt(
                    *mean_std([m["second_half"] for _, m in rs])
                ),
                "grad norm, layer 1 / layer N (first steps)": (
                    f"{per_layer_start[0]:.3g} / {per_layer_start[-1]:.3g}"
                ),
            }
        )
    report.tables[f"{depth}-layer post-norm decoder on reverse-lm, {steps} steps"] = rows
    report.data["grad_norm_per_layer"] = grads

    deep, steps_b = s.pick(3, 8), s.pick(25, 250)
    warm = s.pick(10, 150)
    lr_b = 2e-3
    norm_runs: dict[str, list[tuple[History, dict]]] = {}
    for norm_first in (False, True):
        for warmup in (warm, 0):
            key = f"{'pre' if norm_first else 'post'}-norm, warmup {warmup}"
            norm_runs[key] = [
                _run(
                    s,
                    seed,
                    steps=steps_b,
                    lr=lr_b,
                    warmup=warmup,
                    clip=None,
                    n_layers=deep,
                    norm_first=norm_first,
                )  # fmt: skip
                for seed in range(s.seeds)
            ]
    report.tables[f"{deep}-layer decoder, Adam at lr {lr_b}, no clipping, {steps_b} steps"] = [
        {
            "stack": key,
            "diverged runs": f"{sum(h.diverged for h, _ in rs)} of {len(rs)}",
            "final training loss": fmt(*mean_std([_tail(h.losses) for h, _ in rs])),
            "second-half accuracy (held out)": fmt(*mean_std([m["second_half"] for _, m in rs])),
            "largest gradient norm": f"{max(max(h.grad_norms, default=0) for h, _ in rs):.3g}",
        }
        for key, rs in norm_runs.items()
    ]

    def curve(rs: list[tuple[History, dict]]) -> list[float]:
        mean = [sum(x) / len(x) for x in zip(*[h.losses for h, _ in rs], strict=False)]
        return smooth(mean, max(1, len(mean) // 30))

    report.data["curves"] = {k: curve(rs) for k, rs in {**runs, **norm_runs}.items()}
    layers = list(range(1, depth + 1))
    panels = [
        Panel(
            f"{depth}-layer post-norm decoder: training loss",
            [Line(k, list(range(len(curve(rs)))), curve(rs)) for k, rs in runs.items()],
            "step",
            "cross-entropy",
        ),
        Panel(
            "gradient norm of each layer's parameters",
            [Line(f"{k}, first {early} steps", layers, g["first_steps"]) for k, g in grads.items()]
            + [
                Line(f"{k}, last {early} steps", layers, g["last_steps"], style="--")
                for k, g in grads.items()
            ],
            "layer (1 = bottom)",
            "gradient norm",
            logy=True,
        ),
        Panel(
            f"{deep}-layer decoder, lr {lr_b}, no clipping: training loss",
            [Line(k, list(range(len(curve(rs)))), curve(rs)) for k, rs in norm_runs.items()],
            "step",
            "cross-entropy",
        ),
    ]
    report.figures.append("no_residual.png")
    save_panels(out / "no_residual.png", panels, title="Skip connections and LayerNorm placement")
    with_res, without = rows
    report.findings.append(
        f"{depth} layers, final training loss {with_res['final training loss']} with skip "
        f"connections and {without['final training loss']} without; held-out second-half "
        f"accuracy {with_res['second-half accuracy (held out)']} against "
        f"{without['second-half accuracy (held out)']}."
    )
    g_with, g_without = grads["with skip connections"], grads["without"]
    report.findings.append(
        f"Over the first {early} steps the bottom layer's gradient norm is "
        f"{g_with['first_steps'][0]:.3g} with skip connections ({g_with['first_steps'][-1]:.3g} "
        f"at the top) and {g_without['first_steps'][0]:.3g} without "
        f"({g_without['first_steps'][-1]:.3g} at the top)."
    )
    return report
