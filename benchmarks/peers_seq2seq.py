"""The seq2seq-train section of benchmarks/peers.py: one training step of the paper's
encoder-decoder in aiayn, in torch.nn.Transformer and in Hugging Face's MarianMTModel.

The three sides have identical dimensions and do the same work: a shared source/target
embedding x sqrt(d_model) plus the sinusoidal table, dropout P_drop on the embedding sums and the
sub-layer outputs (none on attention weights or inside the feed-forward network, as in the
paper), post-norm layers with ReLU, an output projection tied to the embedding, the source
padding mask and the causal mask. Each step is forward, the same label-smoothed cross-entropy on
the fp32 logits, backward and an Adam step. Departures a side cannot avoid:
- torch.nn.Transformer applies its one `dropout` to attention weights and the feed-forward hidden
  layer too; both are set to 0 here, and its final LayerNorms (which post-norm does not need)
  are removed.
- Marian adds `final_logits_bias` (zeros) to the logits, one (B, T, V) addition; its position
  tables are frozen, as ours are a buffer.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
from typing import Any

import torch
import torch.nn.functional as F
from peers_common import Context, interleaved, rss_kib, run_children, table
from torch import Tensor, nn

from aiayn import build_model, model_preset
from aiayn.config import ModelConfig

NAME = "seq2seq-train"
SIDES = ("aiayn", "torch.nn.Transformer", "hf-MarianMTModel")
# aiayn's model under torch.compile (inductor, which needs a C++ compiler): reported against
# aiayn's own eager step, since compiling the peers would be a different comparison
COMPILED = "aiayn + torch.compile"
PRECISIONS = ("fp32", "bf16")
PAD, BOS = 0, 2
LABEL_SMOOTHING = 0.1

FLOPS_FORMULA = (
    "training FLOPs per step = 6 * B * [S * (L_enc * N_enc + L_dec * N_kv) "
    "+ T * (L_dec * N_dec + N_out)] + 12 * B * d * [L_enc * S^2 + L_dec * (T^2 + T * S)], where "
    "N_enc = parameters of one encoder layer, N_kv = one decoder layer's cross-attention key and "
    "value projections (they run on the S source positions), N_dec = the rest of one decoder "
    "layer, N_out = d * V (the tied output projection; the embedding lookup is no matmul), "
    "biases and LayerNorms included; 6 = 2 FLOPs per multiply-add x (forward + backward's 2); "
    "the attention term counts Q K^T and A V (2 * 2 * length^2 * d forward per layer, x 3), "
    "full squares, the causal half not subtracted. Identical for all sides (same dimensions), "
    "so MFU ratios equal throughput ratios. MFU = (FLOPs per step / median step time) / the "
    "torch.mm peak of the same precision measured in this run."
)


def sizes(quick: bool) -> dict[str, dict[str, Any]]:
    """name -> {config, batch, src_len, tgt_len}: the shapes this section measures."""
    if quick:
        tiny = model_preset("tiny", vocab_size=1000)
        return {"tiny": {"config": tiny, "batch": 8, "src_len": 8, "tgt_len": 8}}
    shape = {"batch": 64, "src_len": 24, "tgt_len": 24}
    return {
        "small": {"config": model_preset("small"), **shape},
        "paper-base": {"config": model_preset("paper-base"), **shape},
    }


def sinusoidal_table(max_len: int, d_model: int) -> Tensor:
    """Section 3.5's table (sines in even dimensions, cosines in odd), written out here so that
    the torch.nn side depends on no aiayn internals."""
    position = torch.arange(max_len, dtype=torch.float64)[:, None]
    angle = position / torch.pow(
        10000.0, torch.arange(0, d_model, 2, dtype=torch.float64) / d_model
    )
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.float()


class TorchTransformerSeq2Seq(nn.Module):
    """torch.nn.Transformer with aiayn's embeddings and tied output layer around it."""

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(c.vocab_size, c.d_model) * c.d_model**-0.5)
        self.register_buffer("pe", sinusoidal_table(c.max_len, c.d_model), persistent=False)
        self.scale = math.sqrt(c.d_model)
        self.drop = nn.Dropout(c.p_drop)
        self.transformer = nn.Transformer(
            d_model=c.d_model, nhead=c.n_heads, num_encoder_layers=c.n_layers,
            num_decoder_layers=c.decoder_layers, dim_feedforward=c.d_ff, dropout=c.p_drop,
            activation="relu", layer_norm_eps=c.layer_norm_eps, batch_first=True, norm_first=False,
        )  # fmt: skip
        self.transformer.encoder.norm = None  # post-norm: no final LayerNorm (aiayn has none)
        self.transformer.decoder.norm = None
        for layer in [*self.transformer.encoder.layers, *self.transformer.decoder.layers]:
            layer.dropout.p = 0.0  # inside the feed-forward network
            for attention in ("self_attn", "multihead_attn"):
                if hasattr(layer, attention):
                    getattr(layer, attention).dropout = 0.0  # on attention weights

    def embed(self, ids: Tensor) -> Tensor:
        return self.drop(F.embedding(ids, self.embedding) * self.scale + self.pe[: ids.size(1)])

    def forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        """(B, S), (B, T) ids -> (B, T, V) logits."""
        ignore = src == PAD  # torch.nn's convention: True = ignore
        T = tgt.size(1)
        causal = torch.ones(T, T, dtype=torch.bool, device=tgt.device).triu(1)  # True = masked
        h = self.transformer(
            self.embed(src), self.embed(tgt), tgt_mask=causal, src_key_padding_mask=ignore,
            memory_key_padding_mask=ignore, tgt_is_causal=True,
        )  # fmt: skip
        return F.linear(h, self.embedding)


def marian(c: ModelConfig) -> nn.Module:
    from transformers import MarianConfig, MarianMTModel

    config = MarianConfig(
        vocab_size=c.vocab_size, d_model=c.d_model, encoder_layers=c.n_layers,
        decoder_layers=c.decoder_layers, encoder_attention_heads=c.n_heads,
        decoder_attention_heads=c.n_heads, encoder_ffn_dim=c.d_ff, decoder_ffn_dim=c.d_ff,
        activation_function="relu", max_position_embeddings=c.max_len, scale_embedding=True,
        dropout=c.p_drop, attention_dropout=0.0, activation_dropout=0.0,
        share_encoder_decoder_embeddings=True, tie_word_embeddings=True, pad_token_id=PAD,
        eos_token_id=3, bos_token_id=BOS, decoder_start_token_id=BOS, forced_eos_token_id=None,
    )  # fmt: skip
    model = MarianMTModel(config)
    for side in (model.model.encoder, model.model.decoder):
        side.embed_positions.weight.requires_grad_(False)  # a fixed table, as aiayn's buffer
    return model


def build_side(name: str, c: ModelConfig) -> tuple[nn.Module, Any, str]:
    """(module, forward(src, tgt) -> logits, how it attends)."""
    if name in ("aiayn", COMPILED):
        model = build_model(c)
        forward = torch.compile(model) if name == COMPILED else model
        return model, forward, "torch SDPA (in fp32 under CPU bf16 autocast: aiayn's choice)"
    if name == "torch.nn.Transformer":
        model = TorchTransformerSeq2Seq(c)
        return model, model, "nn.MultiheadAttention -> SDPA"
    model = marian(c)

    def forward(src: Tensor, tgt: Tensor) -> Tensor:
        mask = (src != PAD).long()
        return model(input_ids=src, attention_mask=mask, decoder_input_ids=tgt).logits

    return model, forward, f"attn_implementation={model.config._attn_implementation}"


def make_batch(shape: dict[str, Any], vocab: int) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(0)
    B, S, T = shape["batch"], shape["src_len"], shape["tgt_len"]
    tgt = torch.randint(4, vocab, (B, T + 1), generator=g)
    tgt[:, 0] = BOS
    return {"src": torch.randint(4, vocab, (B, S), generator=g), "tgt": tgt}


def make_step(model: nn.Module, forward: Any, batch: dict[str, Tensor], precision: str):
    """One training step (forward, loss, backward, Adam), and the dtype of the logits."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    src, tgt_in, tgt_out = batch["src"], batch["tgt"][:, :-1], batch["tgt"][:, 1:]
    seen: dict[str, str] = {}

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = forward(src, tgt_in)  # (B, T, V)
            seen["logits"] = str(logits.dtype).removeprefix("torch.")
            loss = F.cross_entropy(
                logits.float().reshape(-1, logits.size(-1)), tgt_out.reshape(-1),
                ignore_index=PAD, label_smoothing=LABEL_SMOOTHING,
            )  # fmt: skip
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, seen


def flops_per_step(c: ModelConfig, shape: dict[str, Any]) -> tuple[float, dict[str, int]]:
    d, f, V = c.d_model, c.d_ff, c.vocab_size
    linear = d * d + d
    ff = d * f + f + f * d + d
    n = {
        "N_enc": 4 * linear + ff + 2 * 2 * d,
        "N_kv": 2 * linear,
        "N_dec": 4 * linear + 2 * linear + ff + 3 * 2 * d,
        "N_out": d * V,
    }
    B, S, T = shape["batch"], shape["src_len"], shape["tgt_len"]
    L_enc, L_dec = c.n_layers, c.decoder_layers
    dense = S * (L_enc * n["N_enc"] + L_dec * n["N_kv"]) + T * (L_dec * n["N_dec"] + n["N_out"])
    attention = L_enc * S * S + L_dec * (T * T + T * S)
    return 6 * B * dense + 12 * B * d * attention, n


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """In a child process: train one side for a few steps; its resident size before and at peak."""
    shape = sizes(spec["quick"])[spec["size"]]
    baseline = rss_kib("VmRSS")
    model, forward, _ = build_side(spec["side"], shape["config"])
    step, _ = make_step(
        model, forward, make_batch(shape, shape["config"].vocab_size), spec["precision"]
    )
    for _ in range(spec["steps"]):
        step()
    peak = rss_kib("VmHWM")
    return {
        "baseline_mib": baseline / 1024,
        "peak_mib": peak / 1024,
        "training_mib": (peak - baseline) / 1024,
    }


def inductor_available() -> bool:
    """Whether torch.compile's default backend can build CPU kernels here (a C++ compiler)."""
    return shutil.which(os.environ.get("CXX", "g++")) is not None


def _time_sides(
    ctx: Context, c: ModelConfig, shape: dict[str, Any], precision: str, flops: float
) -> dict[str, dict[str, Any]]:
    """Build the sides, time their steps interleaved; the models are freed on return. The
    compiled side compiles in its first (warm-up) step."""
    steps, sides = {}, {}
    names = [*SIDES, COMPILED] if not ctx.quick and inductor_available() else list(SIDES)
    for name in names:
        model, forward, attention = build_side(name, c)
        model.train()
        step, seen = make_step(model, forward, make_batch(shape, c.vocab_size), precision)
        steps[name] = step
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        sides[name] = {"trainable_parameters": params, "attention": attention, "seen": seen}
    times = interleaved(steps, warmup=ctx.warmup, reps=ctx.reps)
    tokens = shape["batch"] * shape["tgt_len"]
    for name, s in sides.items():
        median = statistics.median(times[name])
        s["precision"] = {
            "parameters": "fp32", "autocast": "bf16" if precision == "bf16" else None,
            "logits": s.pop("seen").get("logits"),
        }  # fmt: skip
        s.update(
            seconds=times[name],
            median_seconds=median,
            tokens_per_second=tokens / median,
            model_flops_per_second=flops / median,
            mfu=flops / median / ctx.peaks[precision],
        )
    return sides


def run(ctx: Context) -> tuple[dict[str, Any], list[str]]:
    """Time every side at every size and precision, interleaved; measure memory in children."""
    record: dict[str, Any] = {
        "flops_formula": FLOPS_FORMULA,
        "label_smoothing": LABEL_SMOOTHING,
        "sizes": {},
    }
    torch.manual_seed(0)
    for size, shape in sizes(ctx.quick).items():
        c = shape["config"]
        flops, n = flops_per_step(c, shape)
        tokens = shape["batch"] * shape["tgt_len"]
        entry: dict[str, Any] = {
            "model_config": c.to_dict(), **{k: shape[k] for k in ("batch", "src_len", "tgt_len")},
            "target_tokens_per_step": tokens, "flops_per_step": flops, "parameter_counts": n,
            "precisions": {},
        }  # fmt: skip
        for precision in PRECISIONS:
            sides = _time_sides(ctx, c, shape, precision, flops)
            if not ctx.quick or precision == "fp32":  # a smoke run checks the code path once
                specs = [
                    {"section": NAME, "size": size, "side": name, "precision": precision,
                     "quick": ctx.quick, "steps": 1 if ctx.quick else 2, "threads": ctx.threads}
                    for name in SIDES
                ]  # fmt: skip
                memory = run_children(ctx.child_argv, specs, parallel=ctx.quick)
                for name, result in zip(SIDES, memory, strict=True):
                    sides[name]["memory"] = result
            formula_params = (
                c.vocab_size * c.d_model + c.n_layers * n["N_enc"]
                + c.decoder_layers * (n["N_dec"] + n["N_kv"])
            )  # fmt: skip
            if formula_params != sides["aiayn"]["trainable_parameters"]:
                raise SystemExit(
                    f"the FLOPs formula counts {formula_params:,} parameters, aiayn's model has "
                    f"{sides['aiayn']['trainable_parameters']:,}: update flops_per_step"
                )
            a = sides["aiayn"]["tokens_per_second"]
            entry["precisions"][precision] = {
                "sides": sides,
                "aiayn_over_torch_nn": a / sides["torch.nn.Transformer"]["tokens_per_second"],
                "aiayn_over_marian": a / sides["hf-MarianMTModel"]["tokens_per_second"],
                **(
                    {"compiled_over_eager": sides[COMPILED]["tokens_per_second"] / a}
                    if COMPILED in sides
                    else {}
                ),
            }
        record["sizes"][size] = entry
    return record, markdown(record)


def markdown(record: dict[str, Any]) -> list[str]:
    rows, mfu_rows, memory_rows, detail_rows, compiled_rows = [], [], [], [], []
    for size, entry in record["sizes"].items():
        shape = f"{entry['batch']} x {entry['src_len']} -> {entry['tgt_len']}"
        for precision, p in entry["precisions"].items():
            s = p["sides"]
            ratios = [f"**{p['aiayn_over_torch_nn']:.2f}x**", f"**{p['aiayn_over_marian']:.2f}x**"]
            tps = [f"{s[n]['tokens_per_second']:,.0f}" for n in SIDES]
            rows.append([size, shape, precision, *ratios, *tps])
            if "compiled_over_eager" in p:
                compiled_rows.append([
                    size, precision, f"{s[COMPILED]['tokens_per_second']:,.0f}",
                    f"**{p['compiled_over_eager']:.2f}x**", f"{s[COMPILED]['mfu']:.1%}",
                ])  # fmt: skip
            mfu_rows.append([size, precision, *(f"{s[n]['mfu']:.1%}" for n in SIDES)])
            if all("memory" in s[n] for n in SIDES):
                mib = [s[n]["memory"] for n in SIDES]
                cells = [f"{m['training_mib']:,.0f} ({m['peak_mib']:,.0f})" for m in mib]
                memory_rows.append([size, precision, *cells])
            for n in s:
                prec = s[n]["precision"]
                detail_rows.append([
                    size, precision, n, f"{s[n]['trainable_parameters']:,}",
                    f"{s[n]['median_seconds']:.3f}",
                    f"autocast {prec['autocast']}, logits {prec['logits']}", s[n]["attention"],
                ])  # fmt: skip
    header = ["size", "batch", "precision", "aiayn / torch.nn", "aiayn / Marian"]
    lines = [
        "Training throughput in target tokens per second (forward, loss, backward, Adam); "
        "a ratio above 1 means aiayn is faster.",
        "",
        *table([*header, *(f"{n} tok/s" for n in SIDES)], rows),
        "",
        "Model FLOPs utilisation (MFU) against this run's torch.mm peak of the same precision:",
        "",
        *table(["size", "precision", *SIDES], mfu_rows),
    ]
    if compiled_rows:
        lines += [
            "",
            f"`{COMPILED}` (`--set compile=true`, inductor): aiayn's model compiled, against its "
            "own eager step above (the compile itself, in the warm-up, is not timed):",
            "",
            *table(["size", "precision", "tok/s", "compiled / eager", "MFU"], compiled_rows),
        ]
    if memory_rows:
        lines += [
            "",
            "Memory in MiB: the peak resident size minus the size before building the model "
            "(the whole peak in brackets), one child process per side:",
            "",
            *table(["size", "precision", *SIDES], memory_rows),
        ]
    columns = ["size", "precision", "side", "parameters", "median step (s)", "precision"]
    lines += ["", "Per side:", "", *table([*columns, "attention"], detail_rows)]
    return [*lines, "", f"FLOPs: {record['flops_formula']}"]
