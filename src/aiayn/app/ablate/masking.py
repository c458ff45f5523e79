"""no-causal-mask: a language model trained without the decoder's subsequent-position mask.

With the mask, position i predicts token i+1 from tokens 1..i. Without it, position i can read
token i+1 itself, since it is the input at position i+1: the training loss collapses towards
zero by copying, and the model has learned nothing it can use when it generates, where the next
token does not exist yet. Two measurements:
- a character language model (tiny Shakespeare in the full run; a short built-in text in the
  quick one): training loss, and text generated greedily;
- reverse-lm (BOS x SEP reversed x): the first half is random, so a correct model stays at chance
  there under teacher forcing; a leaking one predicts it perfectly, and then generates the
  second half badly.
Generation recomputes the whole window at every step (no KV cache), which is the computation the
model was trained with.
"""

from __future__ import annotations

from pathlib import Path

import torch

from aiayn.app.ablate._common import (
    Batch,
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
from aiayn.decoding import SamplingOptions, generate
from aiayn.models import build_model

# For the quick run, which must not need a download.
BUILT_IN_TEXT = (
    "The dominant sequence transduction models are based on complex recurrent or convolutional "
    "neural networks that include an encoder and a decoder. The best performing models also "
    "connect the encoder and decoder through an attention mechanism. We propose a new simple "
    "network architecture, based solely on attention mechanisms, dispensing with recurrence and "
    "convolutions entirely. "
) * 4


def _text(settings: Settings) -> str:
    if settings.quick:
        return BUILT_IN_TEXT
    from aiayn.data.shakespeare import tiny_shakespeare

    return tiny_shakespeare()


def char_lm(settings: Settings, causal: bool, seed: int, text: str) -> dict:
    """Train a character LM with or without the causal mask; its losses and a greedy sample."""
    s = settings
    chars = sorted(set(text))
    index = {c: i + 1 for i, c in enumerate(chars)}  # 0 is padding
    data = torch.tensor([index[c] for c in text])
    block, B, steps = s.pick(32, 64), s.pick(8, 32), s.pick(25, 400)
    split = int(0.9 * len(data))
    g = torch.Generator().manual_seed(1000 + seed)

    def window(part: torch.Tensor, n: int, gen: torch.Generator) -> Batch:
        starts = torch.randint(0, len(part) - block - 1, (n,), generator=gen)
        seq = torch.stack([part[i : i + block + 1] for i in starts.tolist()])
        return {"inputs": seq[:, :-1], "targets": seq[:, 1:]}

    torch.manual_seed(seed)
    config = toy_config("decoder-only", vocab_size=len(chars) + 1, max_len=block, causal=causal)
    model = build_model(config)
    h = train(model, lambda _: window(data[:split], B, g), steps=steps, device=s.device)
    val = window(data[split:], 256, torch.Generator().manual_seed(5))
    m = teacher_forced_accuracy(model, {k: v.to(s.device) for k, v in val.items()})
    prompt = data[split : split + 16][None].to(s.device)
    options = SamplingOptions(max_new_tokens=block - 16, temperature=0.0, use_cache=False)
    ids = generate(model, prompt, options)[0, 16:].tolist()
    sample = "".join(chars[i - 1] for i in ids if i > 0)
    words = set(text.split())
    sample_words = sample.split()
    known = sum(w in words for w in sample_words) / max(len(sample_words), 1)
    return {
        "losses": h.losses,
        "final_train_loss": sum(h.losses[-20:]) / len(h.losses[-20:]),
        "val_loss": m["loss"],
        "prompt": "".join(chars[i - 1] for i in prompt[0].tolist()),
        "sample": sample,
        "known_words": known,
    }


def reverse_lm(settings: Settings, causal: bool, seed: int, steps: int | None = None) -> dict:
    """Train on reverse-lm; first- and second-half accuracy, teacher forced and generated."""
    s = settings
    L, B, steps = s.pick(4, 8), s.pick(16, 64), steps or s.pick(25, 400)
    torch.manual_seed(seed)
    model = build_model(toy_config("decoder-only", max_len=2 * L + 2, causal=causal))
    g = torch.Generator().manual_seed(1000 + seed)
    h = train(model, lambda _: reverse_lm_batch(g, B=B, L=L), steps=steps, device=s.device)
    test = reverse_lm_batch(torch.Generator().manual_seed(99), B=512, L=L)
    test = {k: v.to(s.device) for k, v in test.items()}
    with torch.no_grad():
        hit = model(test["inputs"]).argmax(-1) == test["targets"]  # (B, 2L+1)
    full = torch.cat([test["inputs"][:, :1], test["targets"]], 1)  # BOS x SEP reversed x
    prompt = full[:, : L + 2]  # BOS x SEP
    options = SamplingOptions(max_new_tokens=L, temperature=0.0, use_cache=False)
    generated = generate(model, prompt, options)[:, L + 2 :]
    return {
        "losses": h.losses,
        "first_half": float(hit[:, :L].float().mean()),
        "second_half_teacher_forced": float(hit[:, L + 1 :].float().mean()),
        "second_half_generated": float((generated == full[:, L + 2 :]).float().mean()),
        "token_accuracy": teacher_forced_accuracy(model, test)["token_accuracy"],
    }


def run(settings: Settings, out: Path) -> Report:
    s = settings
    report = Report(
        "no-causal-mask",
        "A decoder trained without its causal mask",
        "What does the decoder's mask do, and what happens when it is left out in training?",
    )
    text = _text(s)
    lm = {c: [char_lm(s, c, seed, text) for seed in range(s.seeds)] for c in (True, False)}
    rev = {c: [reverse_lm(s, c, seed) for seed in range(s.seeds)] for c in (True, False)}
    label = {True: "causal mask (the paper)", False: "no mask"}
    report.tables["Character language model"] = [
        {
            "decoder": label[c],
            "final training loss (nats/char)": fmt(*mean_std([r["final_train_loss"] for r in rs])),
            "held-out loss, teacher forced": fmt(*mean_std([r["val_loss"] for r in rs])),
            "generated words that are real words": fmt(*mean_std([r["known_words"] for r in rs])),
        }
        for c, rs in lm.items()
    ]
    report.tables["Greedy samples (seed 0), after the prompt"] = [
        {"decoder": label[c], "prompt": repr(rs[0]["prompt"]), "sample": repr(rs[0]["sample"])}
        for c, rs in lm.items()
    ]
    report.tables["reverse-lm: accuracy by half (chance 0.1)"] = [
        {
            "decoder": label[c],
            "first half, teacher forced": fmt(*mean_std([r["first_half"] for r in rs])),
            "second half, teacher forced": fmt(
                *mean_std([r["second_half_teacher_forced"] for r in rs])
            ),
            "second half, generated": fmt(*mean_std([r["second_half_generated"] for r in rs])),
        }
        for c, rs in rev.items()
    ]
    report.data = {
        "char_lm": {label[c]: [{k: v for k, v in r.items()} for r in rs] for c, rs in lm.items()},
        "reverse_lm": {label[c]: rs for c, rs in rev.items()},
    }

    def curve(runs: list[dict]) -> list[float]:
        mean = [sum(x) / len(x) for x in zip(*[r["losses"] for r in runs], strict=False)]
        return smooth(mean, max(1, len(mean) // 30))

    panels = [
        Panel(
            title,
            [Line(label[c], list(range(len(curve(rs)))), curve(rs)) for c, rs in runs.items()],
            "step",
            "training loss (nats per token)",
        )
        for title, runs in (("character LM", lm), ("reverse-lm", rev))
    ]
    report.figures.append("no_causal_mask.png")
    save_panels(out / "no_causal_mask.png", panels, title="Training without the causal mask")

    def stat(runs: list[dict], key: str) -> str:
        return fmt(*mean_std([r[key] for r in runs]))

    masked, leaky = lm[True], lm[False]
    report.findings.append(
        f"Character LM: final training loss {stat(leaky, 'final_train_loss')} nats/char without "
        f"the mask against {stat(masked, 'final_train_loss')} with it; of the greedily "
        f"generated words {stat(leaky, 'known_words')} are real words without the mask, "
        f"{stat(masked, 'known_words')} with it."
    )
    r0, r1 = rev[True], rev[False]
    report.findings.append(
        f"reverse-lm: the unpredictable first half is predicted with accuracy "
        f"{stat(r1, 'first_half')} without the mask (the leak; {stat(r0, 'first_half')} with "
        f"it), but the generated second half is right {stat(r1, 'second_half_generated')} of "
        f"the time, against {stat(r0, 'second_half_generated')} with the mask."
    )
    return report
