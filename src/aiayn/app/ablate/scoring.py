"""attention-scoring: what gives the attention weights, and why the 1/sqrt(d_k).

Two parts.
1. The four scores (scaled dot product, dot product, additive, bilinear) in the same
   encoder-decoder, trained for the same steps on the same reversal batches: accuracy, loss
   curves, parameters and time per step. A fifth model keeps the paper's score but ties the key
   projection to the query projection (W^K = W^Q in every attention): its scores are symmetric,
   q_i.k_j = q_j.k_i, and a token's score with itself, |q_i|^2, tends to be its largest.
2. Footnote 4 of the paper, measured without training: for queries and keys with independent
   N(0, 1) components, q.k has variance d_k. Unscaled, the softmax over the keys saturates as d_k
   grows (its entropy falls towards 0, one key takes all the weight) and the gradient that reaches
   the scores vanishes; divided by sqrt(d_k), the scores keep unit variance at every d_k.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from aiayn.app.ablate._common import (
    Report,
    Settings,
    fmt,
    mean_std,
    reversal_test_scores,
    smooth,
    toy_config,
    train_reversal,
)
from aiayn.app.ablate._figures import Line, Panel, save_panels
from aiayn.models import build_model, count_parameters
from aiayn.nn.attention import SCORES, MultiHeadAttention, attend

NAME = "attention-scoring"
TIED = "scaled-dot, W^K = W^Q"


def tie_keys_to_queries(model: torch.nn.Module) -> torch.nn.Module:
    """Every attention's key projection made its query projection (one shared matrix)."""
    for module in model.modules():
        if isinstance(module, MultiHeadAttention):
            module.w_k = module.w_q
    return model


def saturation(d_k: int, *, scaled: bool, n_queries: int, n_keys: int, seed: int) -> dict:
    """Entropy of softmax(q.k [/ sqrt(d_k)]) over `n_keys` random keys, the largest weight, and
    the norm of the gradient that reaches the scores, for a random unit upstream gradient."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n_queries, d_k, generator=g, dtype=torch.float64)
    k = torch.randn(n_keys, d_k, generator=g, dtype=torch.float64)
    v = torch.randn(n_keys, 1, generator=g, dtype=torch.float64)
    scores = (q @ k.T / (math.sqrt(d_k) if scaled else 1.0)).requires_grad_(True)  # (Nq, Nk)
    _, weights = attend(scores, v)
    upstream = torch.randn(weights.shape, generator=g, dtype=torch.float64)
    upstream = upstream / upstream.norm(dim=-1, keepdim=True)
    (grad,) = torch.autograd.grad((weights * upstream).sum(), scores)
    entropy = -(weights * weights.clamp(min=1e-300).log()).sum(-1)  # (Nq,)
    return {
        "d_k": d_k,
        "scaled": scaled,
        "score_std": float(scores.detach().std()),
        "entropy": float(entropy.detach().mean()),
        "max_weight": float(weights.detach().max(-1).values.mean()),
        "grad_norm": float(grad.norm(dim=-1).mean()),
    }


def run(settings: Settings, out: Path) -> Report:
    s = settings
    steps = s.pick(25, 400)
    B, lengths = s.pick(16, 64), s.pick((3, 6), (6, 14))
    report = Report(
        NAME,
        "Attention scoring functions, and the scale 1/sqrt(d_k)",
        "Which function of a query and a key should give the attention weights, and why does the "
        "paper divide the dot product by sqrt(d_k)?",
    )
    rows, curves = [], {}
    for score in (*SCORES, TIED):
        accs, losses, times, runs = [], [], [], []
        n_params = 0
        for seed in range(s.seeds):
            torch.manual_seed(seed)
            if score == TIED:
                model = tie_keys_to_queries(build_model(toy_config("encoder-decoder")))
            else:
                model = build_model(toy_config("encoder-decoder", attention_score=score))
            n_params = count_parameters(model)
            h = train_reversal(model, seed=seed, B=B, lengths=lengths, steps=steps, device=s.device)
            m = reversal_test_scores(model, lengths=lengths, device=s.device)
            accs.append(m["token_accuracy"])
            losses.append(m["loss"])
            times.append(1000 * h.seconds / max(len(h.losses), 1))
            runs.append(h.losses)
        curves[score] = [sum(c) / len(c) for c in zip(*runs, strict=False)]
        a, loss, t = mean_std(accs), mean_std(losses), mean_std(times)
        rows.append(
            {
                "score": score,
                "parameters": n_params,
                "token accuracy (held out)": fmt(*a),
                "held-out loss": fmt(*loss),
                "ms per step": fmt(*t, digits=1),
            }
        )
        report.data[score] = {"token_accuracy": accs, "loss": losses, "ms_per_step": times}
    report.tables[f"Reversal, {steps} steps, {s.seeds} seed(s)"] = rows
    report.data["curves"] = curves

    d_ks = s.pick([4, 64, 512], [1, 4, 16, 64, 256, 1024, 4096])
    n_keys = 32
    sat = [
        saturation(d, scaled=scaled, n_queries=s.pick(200, 2000), n_keys=n_keys, seed=d)
        for scaled in (True, False)
        for d in d_ks
    ]
    report.tables[f"Softmax over {n_keys} random keys (no training)"] = [
        {
            "d_k": r["d_k"],
            "scores": "q.k / sqrt(d_k)" if r["scaled"] else "q.k",
            "std of the scores": r["score_std"],
            "entropy (nats)": r["entropy"],
            "largest weight": r["max_weight"],
            "gradient norm at the scores": r["grad_norm"],
        }
        for r in sat
    ]
    report.data["saturation"] = sat

    def series(key: str) -> list[Line]:
        return [
            Line(
                "q.k / sqrt(d_k)" if scaled else "q.k (no scale)",
                d_ks,
                [r[key] for r in sat if r["scaled"] == scaled],
            )
            for scaled in (True, False)
        ]

    width = max(1, steps // 20)
    panels = [
        Panel(
            "training loss on reversal",
            [Line(k, list(range(len(c))), smooth(c, width)) for k, c in curves.items()],
            "step",
            "cross-entropy",
            logy=True,
        ),
        Panel(
            f"softmax entropy over {n_keys} keys (max ln {n_keys} = {math.log(n_keys):.2f})",
            series("entropy"),
            "d_k",
            "entropy (nats)",
            logx=True,
        ),
        Panel("gradient norm reaching the scores", series("grad_norm"), "d_k", "norm", logx=True),
        Panel("largest attention weight", series("max_weight"), "d_k", "weight", logx=True),
    ]
    report.figures.append("attention_scoring.png")
    save_panels(out / "attention_scoring.png", panels, title="Attention scoring functions")

    best = max(rows, key=lambda r: float(r["token accuracy (held out)"].split()[0]))
    report.findings.append(
        f"Highest held-out token accuracy after {steps} steps: {best['score']} "
        f"({best['token accuracy (held out)']})."
    )
    big = [r for r in sat if r["d_k"] == d_ks[-1]]
    on, off = (next(r for r in big if r["scaled"] == x) for x in (True, False))
    report.findings.append(
        f"At d_k = {d_ks[-1]}, unscaled scores have std {off['score_std']:.1f}: softmax entropy "
        f"{off['entropy']:.3f} nats (largest weight {off['max_weight']:.3f}) and gradient norm "
        f"{off['grad_norm']:.2e}, against {on['entropy']:.3f} nats, {on['max_weight']:.3f} and "
        f"{on['grad_norm']:.2e} with the 1/sqrt(d_k) scale."
    )
    return report
