"""shared-layers: does each layer need weights of its own, and do the trained layers and heads
differ?

The paper's N layers are "identical" in shape only: each has its own W^Q, W^K, W^V, W^O and
feed-forward weights. ALBERT (Lan et al. 2019) ties them, one layer applied N times. Three models
are trained for the same steps on reversal: N separate layers (the paper), N shared layers (the
parameters of one layer, the computation of N), and one layer. Then, in the trained models:
- linear CKA between the encoder's hidden states after each layer (how different the layers'
  outputs are);
- the cosine between the layers' query-key forms W^Q (W^K)^T, layer against layer;
- within each layer, the mean cosine between its heads' query-key forms and between their
  attention maps (do the heads look at different things?), against the same figures at
  initialisation.
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
    toy_config,
    train_reversal,
)
from aiayn.app.ablate._figures import Line, Panel, save_panels
from aiayn.evaluation.similarity import (
    attention_map_similarity,
    cka_matrix,
    cosine_matrix,
    head_query_key_similarity,
    mean_off_diagonal,
)
from aiayn.models import build_model, count_parameters
from aiayn.nn.masks import padding_mask


@torch.no_grad()
def encoder_states(model: torch.nn.Module, src: torch.Tensor) -> tuple[list, list]:
    """The encoder's input and its output after each layer ((B, S, D) each, N + 1 of them), and
    each layer's self-attention weights (B, H, S, S)."""
    model.eval()
    mask = padding_mask(src, 0)
    x = model.src_embed(src)
    states, weights = [x], []
    for layer in model.encoder.layers:
        x = layer(x, mask, need_weights=True)
        states.append(x)
        weights.append(layer.self_attn.last_weights)
    return states, weights


def similarities(model: torch.nn.Module, src: torch.Tensor) -> dict:
    """CKA between layers, layer-against-layer query-key cosine, and per-layer head similarity."""
    states, weights = encoder_states(model, src)
    layers = list(model.encoder.layers)
    H = layers[0].self_attn.n_heads
    forms = torch.stack(
        [(a.self_attn.w_q.weight.T @ a.self_attn.w_k.weight).flatten() for a in layers]
    )  # (N, D*D): x^T W_q^T W_k y, all heads together
    return {
        "cka": cka_matrix(states).tolist(),
        "layer_qk_cosine": cosine_matrix(forms.detach()).tolist(),
        "head_qk_similarity": [
            mean_off_diagonal(
                head_query_key_similarity(a.self_attn.w_q.weight, a.self_attn.w_k.weight, H)
            )
            for a in layers
        ],
        "head_map_similarity": [mean_off_diagonal(attention_map_similarity(w)) for w in weights],
    }


def run(settings: Settings, out: Path) -> Report:
    s = settings
    N, steps, lengths = s.pick(2, 4), s.pick(25, 400), s.pick((3, 6), (6, 14))
    B = s.pick(16, 64)
    report = Report(
        "shared-layers",
        "Separate weights in every layer, or one layer shared by all",
        "Are the dense layers of each multi-head attention block different, and do they need "
        "to be?",
    )
    variants = {
        f"{N} separate layers (the paper)": dict(n_layers=N),
        f"{N} shared layers": dict(n_layers=N, share_layers=True),
        "1 layer": dict(n_layers=1),
    }
    probe = seq2seq_batch("reverse", torch.Generator().manual_seed(5), B=128, lengths=(12, 12))
    probe_src = probe["src"].to(s.device)
    rows, sims, at_init = [], {}, {}
    for name, changes in variants.items():
        accs, seqs, n_params = [], [], 0
        for seed in range(s.seeds):
            torch.manual_seed(seed)
            model = build_model(toy_config("encoder-decoder", **changes)).to(s.device)
            n_params = count_parameters(model)
            if seed == 0 and N > 1 and changes["n_layers"] == N:
                at_init[name] = similarities(model, probe_src)
            train_reversal(model, seed=seed, B=B, lengths=lengths, steps=steps, device=s.device)
            m = reversal_test_scores(model, lengths=lengths, device=s.device)
            accs.append(m["token_accuracy"])
            seqs.append(m["sequence_accuracy"])
            if seed == 0 and changes["n_layers"] == N:
                sims[name] = similarities(model, probe_src)
        rows.append(
            {
                "model": name,
                "parameters": n_params,
                "token accuracy (held out)": fmt(*mean_std(accs)),
                "whole-sequence accuracy": fmt(*mean_std(seqs)),
            }
        )
    report.tables[f"Reversal, lengths {lengths[0]}-{lengths[1]}, {steps} steps"] = rows
    sep, shared = list(variants)[:2]
    report.tables["Similarity inside the trained encoder (seed 0)"] = [
        {
            "encoder layer": i + 1,
            "heads' query-key forms, separate (init)": (
                f"{sims[sep]['head_qk_similarity'][i]:.3f} "
                f"({at_init[sep]['head_qk_similarity'][i]:.3f})"
            ),
            "heads' attention maps, separate (init)": (
                f"{sims[sep]['head_map_similarity'][i]:.3f} "
                f"({at_init[sep]['head_map_similarity'][i]:.3f})"
            ),
            "heads' attention maps, shared": f"{sims[shared]['head_map_similarity'][i]:.3f}",
            "CKA with the layer below, separate / shared": (
                f"{sims[sep]['cka'][i + 1][i]:.3f} / {sims[shared]['cka'][i + 1][i]:.3f}"
            ),
        }
        for i in range(N)
    ]
    report.data = {"trained": sims, "initial": at_init}
    layers = list(range(1, N + 1))
    panels = [
        Panel(
            f"CKA between encoder states: {sep}",
            xlabel="after layer (0: the embedding)",
            matrix=sims[sep]["cka"],
            vmin=0,
            vmax=1,
        ),
        Panel(
            f"CKA between encoder states: {shared}",
            xlabel="after layer (0: the embedding)",
            matrix=sims[shared]["cka"],
            vmin=0,
            vmax=1,
        ),
        Panel(
            f"cosine of the layers' W_Q W_K^T: {sep}",
            xlabel="layer (0: the bottom one)",
            matrix=sims[sep]["layer_qk_cosine"],
            vmin=-1,
            vmax=1,
        ),
        Panel(
            "mean similarity between the heads of a layer",
            [
                Line("query-key forms, trained", layers, sims[sep]["head_qk_similarity"]),
                Line(
                    "query-key forms, at init",
                    layers,
                    at_init[sep]["head_qk_similarity"],
                    style="--",
                ),
                Line("attention maps, trained", layers, sims[sep]["head_map_similarity"]),
                Line(
                    "attention maps, at init",
                    layers,
                    at_init[sep]["head_map_similarity"],
                    style="--",
                ),
            ],
            "encoder layer (separate weights)",
            "mean off-diagonal cosine",
        ),
    ]
    report.figures.append("shared_layers.png")
    save_panels(out / "shared_layers.png", panels, title="Separate and shared layers")
    report.findings.append(
        "; ".join(
            f"{r['model']}: {r['parameters']} parameters, token accuracy "
            f"{r['token accuracy (held out)']}"
            for r in rows
        )
        + "."
    )
    off = [sims[sep]["layer_qk_cosine"][i][j] for i in range(N) for j in range(N) if i != j] or [
        float("nan")
    ]
    report.findings.append(
        f"In the separate model the layers' query-key forms have cosine "
        f"{sum(off) / len(off):.3f} on average between different layers; its heads' attention "
        f"maps have mean cosine {mean_std(sims[sep]['head_map_similarity'])[0]:.3f} within a "
        f"layer (at initialisation {mean_std(at_init[sep]['head_map_similarity'])[0]:.3f})."
    )
    return report
