"""no-positional-encoding and positions-extrapolate: how a model without recurrence knows order.

no-positional-encoding. Self-attention and the feed-forward network treat every position alike:
permute the source tokens and an encoder without positional encodings returns the same vectors,
permuted (permutation equivariance). Its memory is then a bag of tokens, and through it the
decoder cannot tell "1 2 3" from "3 2 1". Measured on reversal: accuracy with and without
positions, and the equivariance itself (how far the memory of a permuted source is from the
permuted memory, and whether the decoder's outputs change at all).

positions-extrapolate. Sinusoidal encodings are a formula defined at every position; a learned
table has rows only the training lengths ever updated. Both models are trained on copies of
lengths up to L and tested on longer ones.
"""

from __future__ import annotations

from pathlib import Path

import torch

from aiayn.app.ablate._common import (
    Report,
    Settings,
    fmt,
    mean_std,
    reversal_test_scores,
    seq2seq_batch,
    teacher_forced_accuracy,
    toy_config,
    train,
)
from aiayn.app.ablate._figures import Line, Panel, save_panels
from aiayn.models import build_model
from aiayn.nn.masks import padding_mask


def _train_seq2seq(
    settings: Settings, task: str, seed: int, lengths: tuple[int, int], steps: int, **changes
) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(toy_config("encoder-decoder", **changes))
    g = torch.Generator().manual_seed(1000 + seed)
    B = settings.pick(16, 64)
    train(
        model,
        lambda _: seq2seq_batch(task, g, B=B, lengths=lengths),
        steps=steps,
        device=settings.device,
    )
    return model


@torch.no_grad()
def equivariance(model: torch.nn.Module, L: int, device: torch.device) -> dict[str, float]:
    """How far encode(permuted source) is from permuted encode(source), relative to the size of
    the memory; and the largest change of the decoder's logits when the source is permuted."""
    g = torch.Generator().manual_seed(7)
    batch = seq2seq_batch("reverse", g, B=64, lengths=(L, L))
    src, tgt = batch["src"].to(device), batch["tgt_in"].to(device)
    perm = torch.randperm(L, generator=g).to(device)
    memory, _ = model.encode(src)  # (B, S, D)
    memory_p, _ = model.encode(src[:, perm])
    gap = (memory_p - memory[:, perm]).abs().max() / memory.abs().max()
    logits = model.decode(tgt, memory, padding_mask(src, 0))
    logits_p = model.decode(tgt, memory_p, padding_mask(src[:, perm], 0))
    return {"memory_gap": float(gap), "logit_change": float((logits - logits_p).abs().max())}


def run_no_positions(settings: Settings, out: Path) -> Report:
    s = settings
    steps, lengths = s.pick(25, 500), s.pick((3, 6), (6, 12))
    report = Report(
        "no-positional-encoding",
        "Reversal with and without positional encodings",
        "Without positional encodings, can a Transformer tell the order of its input?",
    )
    rows, per_seed = [], {}
    for positional in ("sinusoidal", "none"):
        accs, seqs, gaps, changes = [], [], [], []
        for seed in range(s.seeds):
            model = _train_seq2seq(s, "reverse", seed, lengths, steps, positional=positional)
            m = reversal_test_scores(model, lengths=lengths, device=s.device)
            e = equivariance(model, lengths[1], s.device)
            accs.append(m["token_accuracy"])
            seqs.append(m["sequence_accuracy"])
            gaps.append(e["memory_gap"])
            changes.append(e["logit_change"])
        per_seed[positional] = {
            "token_accuracy": accs,
            "sequence_accuracy": seqs,
            "memory_gap": gaps,
            "logit_change": changes,
        }
        rows.append(
            {
                "positions": positional,
                "token accuracy": fmt(*mean_std(accs)),
                "whole-sequence accuracy": fmt(*mean_std(seqs)),
                "max gap enc(P x) vs P enc(x), relative": f"{max(gaps):.1e}",
                "largest logit change when the source is permuted": f"{max(changes):.1e}",
            }
        )
    report.tables[f"Reversal of lengths {lengths[0]}-{lengths[1]}, {steps} steps"] = rows
    report.data = per_seed
    labels = list(per_seed)
    panels = [
        Panel(
            "held-out accuracy on reversal (teacher forced)",
            [
                Line(
                    f"{metric} accuracy",
                    labels,
                    [mean_std(per_seed[p][f"{metric}_accuracy"])[0] for p in labels],
                    [mean_std(per_seed[p][f"{metric}_accuracy"])[1] for p in labels],
                )
                for metric in ("token", "sequence")
            ],
            "positional encoding",
            "accuracy",
            categories=labels,
        )
    ]
    report.figures.append("no_positional_encoding.png")
    save_panels(out / "no_positional_encoding.png", panels, columns=1)
    none = per_seed["none"]
    report.findings.append(
        f"Without positions the encoder is permutation-equivariant to float precision "
        f"(relative gap {max(none['memory_gap']):.1e}; with sinusoidal positions "
        f"{min(per_seed['sinusoidal']['memory_gap']):.2f}), so permuting the source changes the "
        f"decoder's logits by at most {max(none['logit_change']):.1e}."
    )
    report.findings.append(
        f"Reversal token accuracy: {rows[0]['token accuracy']} with sinusoidal positions, "
        f"{rows[1]['token accuracy']} without (chance is 0.1 per symbol)."
    )
    return report


def run_extrapolate(settings: Settings, out: Path) -> Report:
    s = settings
    steps = s.pick(25, 600)
    train_lengths = s.pick((2, 6), (2, 16))
    test_lengths = s.pick([4, 6, 10], [8, 12, 16, 20, 24, 32, 48])
    report = Report(
        "positions-extrapolate",
        "Sinusoidal and learned positions on sequences longer than any seen in training",
        f"Trained to copy sequences of length {train_lengths[0]}-{train_lengths[1]}, how well do "
        "they copy longer ones?",
    )
    acc: dict[str, list[list[float]]] = {}
    for positional in ("sinusoidal", "learned"):
        acc[positional] = []
        for seed in range(s.seeds):
            model = _train_seq2seq(
                s, "copy", seed, train_lengths, steps, positional=positional, max_len=128
            )
            row = []
            for L in test_lengths:
                g = torch.Generator().manual_seed(L)
                test = seq2seq_batch("copy", g, B=256, lengths=(L, L))
                m = teacher_forced_accuracy(model, {k: v.to(s.device) for k, v in test.items()})
                row.append(m["token_accuracy"])
            acc[positional].append(row)
    report.data = {"test_lengths": test_lengths, "token_accuracy": acc}

    def stats(p: str, i: int) -> tuple[float, float]:
        return mean_std([r[i] for r in acc[p]])

    report.tables[f"Copy: token accuracy by test length ({steps} steps, {s.seeds} seed(s))"] = [
        {
            "test length": L,
            "seen in training": "yes" if train_lengths[1] >= L else "no",
            **{p: fmt(*stats(p, i)) for p in acc},
        }
        for i, L in enumerate(test_lengths)
    ]
    panels = [
        Panel(
            "copy: held-out token accuracy (teacher forced)",
            [
                Line(
                    p,
                    test_lengths,
                    [stats(p, i)[0] for i in range(len(test_lengths))],
                    [stats(p, i)[1] for i in range(len(test_lengths))],
                )
                for p in acc
            ],
            "sequence length",
            "token accuracy",
            vline=train_lengths[1],
        )
    ]
    report.figures.append("positions_extrapolate.png")
    save_panels(out / "positions_extrapolate.png", panels, columns=1)
    longest = len(test_lengths) - 1
    inside = max(i for i, L in enumerate(test_lengths) if train_lengths[1] >= L)
    report.findings.append(
        f"At the longest training length ({test_lengths[inside]}): sinusoidal "
        f"{fmt(*stats('sinusoidal', inside))}, learned {fmt(*stats('learned', inside))}; at "
        f"length {test_lengths[longest]}: sinusoidal {fmt(*stats('sinusoidal', longest))}, "
        f"learned {fmt(*stats('learned', longest))}."
    )
    return report
