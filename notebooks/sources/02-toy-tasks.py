# Source of notebooks/02-toy-tasks.ipynb (built by notebooks/build.py).
# ruff: noqa: E402

# %% [markdown]
# # 02 · Toy tasks: proving that a model learns
#
# {colab_badge}
#
# Before a long run on real data, two small tasks that need no download show that the whole
# pipeline works:
#
# 1. **reverse** (encoder-decoder): read a random sequence of symbols, write it backwards. Three
#    proofs of a working model: the training loss goes to almost zero, the trained model beats
#    the untrained one on held-out data, and the saved model, reloaded from disk, generates
#    exactly the same tokens, one at a time.
# 2. **reverse-lm** (decoder-only): the sequence, a separator, then the sequence reversed, as one
#    stream. The first half is random, so no model can predict it (accuracy at chance); the
#    second half is a copy of what came before (accuracy near 100%). That split is the causal
#    mask at work.
#
# About two minutes of training on 2 CPU cores.

# %%
# Install the package when it is missing (on Colab, for instance).
try:
    import aiayn
except ImportError:
    import subprocess
    import sys

    package = "aiayn[pretrained] @ git+https://github.com/aiayn/aiayn"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", package])
    import aiayn
print("aiayn", aiayn.__version__)

# %% [markdown]
# ## Settings
#
# `AIAYN_NOTEBOOK_QUICK=1` (what the test suite sets) shrinks the runs to a smoke test; the
# figures below come from the full settings.

# %%
import os

QUICK = os.environ.get("AIAYN_NOTEBOOK_QUICK") == "1"
REVERSE_STEPS = 40 if QUICK else 1500
REVERSE_LM_STEPS = 40 if QUICK else 1000
N_TRAIN = 2000 if QUICK else 20000  # training sequences (the task's default is 20000)
N_VAL = 200 if QUICK else 1000  # held-out sequences (the task's default is 1000)
DEVICE = "auto"  # cuda > mps > cpu
print(f"quick={QUICK}: reverse {REVERSE_STEPS} steps, reverse-lm {REVERSE_LM_STEPS} steps")

# %%
import json
import shutil
from pathlib import Path

import torch
from IPython.display import Image, display

from aiayn.app.runs import load_run
from aiayn.app.train import TrainRequest, train
from aiayn.decoding import greedy_decode
from aiayn.tasks.toy import BOS, EOS

RUNS = Path("runs")
for name in ("reverse", "reverse-lm"):
    shutil.rmtree(RUNS / name, ignore_errors=True)  # each run starts afresh

# %% [markdown]
# ## The reverse task
#
# `aiayn train reverse` as a function call: the `tiny` encoder-decoder (2 layers,
# $d_{model}=64$), sequences of 4 to 12 symbols out of 10. `train` writes the run directory
# (config, tokenizer, checkpoints, final weights, metrics) and returns the summary.

# %%
result = train(
    TrainRequest(
        task="reverse",
        out=RUNS / "reverse",
        device=DEVICE,
        sets=[
            f"max_steps={REVERSE_STEPS}",
            f"n_train={N_TRAIN}",
            f"n_val={N_VAL}",
            "tensorboard=false",
        ],
    )
)
s = result.summary
print(
    f"{s['steps']} steps in {s['seconds']:.0f} s on {s['device']}, {s['parameters']:,} parameters"
)
print(*result.proofs, sep="\n")

# %% [markdown]
# ### Proof 1: near-zero loss on the training set
#
# The training loss, as logged every 50 steps in `metrics.jsonl`:

# %%
records = [json.loads(line) for line in (RUNS / "reverse" / "metrics.jsonl").open()]
train_curve = [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]
for step, loss in train_curve[:: max(1, len(train_curve) // 6)] + train_curve[-1:]:
    print(f"step {step:5d}: train loss {loss:.4f}")
print(
    f"\nloss on the training set at the end, evaluated: {s['train_loss']:.4f} nats per token "
    f"(a uniform guess over 11 outputs costs {torch.log(torch.tensor(11.0)):.2f})"
)
display(Image(filename=str(RUNS / "reverse" / "loss.png")))

# %% [markdown]
# ### Proof 2: better than the untrained model, on held-out sequences
#
# The held-out split is drawn with its own seed: these sequences were never trained on.

# %%
print(f"held-out loss        {s['val_loss']:.4f}   untrained {s['untrained_val_loss']:.4f}")
print(f"held-out exact match {s['exact_match']:.1%}   untrained {s['untrained_exact_match']:.1%}")

task, model = result.task, result.model
src_text = "3 1 4 1 5 9 2 6"
src = torch.tensor([task.encode_source(src_text)], device=next(model.parameters()).device)
torch.manual_seed(0)  # the seed `aiayn train` built the model with: its untrained twin
untrained = task.build_model(model.config).to(src.device).eval()

for who, m in (("trained", model), ("untrained", untrained)):
    out = greedy_decode(m, src, bos_id=BOS, eos_id=EOS)[0]
    print(f"{who:>9}: {src_text!r} -> {task.decode_target(out)!r}")

# %% [markdown]
# ### Proof 3: the saved model reloads and generates the same tokens, one at a time
#
# `load_run` rebuilds the task and the model from the run directory alone. Below, both models
# decode greedily, one token per step, by hand: encode the source once, then feed the output so
# far to the decoder and take the most probable next token. Every step must pick the same token,
# with the same logits.

# %%
reloaded = load_run(RUNS / "reverse", device=src.device).model
with torch.no_grad():
    memories = [m.encode(src) for m in (model, reloaded)]
    out = torch.tensor([[BOS]], device=src.device)
    for step in range(len(src_text.split()) + 1):
        logits = [
            m.decode(out, mem, mask)[:, -1]
            for m, (mem, mask) in zip((model, reloaded), memories, strict=True)
        ]
        picks = [int(lg.argmax()) for lg in logits]
        same = picks[0] == picks[1] and torch.equal(logits[0], logits[1])
        token = "<eos>" if picks[0] == EOS else task.decode_target([picks[0]])
        print(
            f"step {step}: in memory {picks[0]:2d}, reloaded {picks[1]:2d} ({token}); "
            f"logits identical: {same}"
        )
        assert same
        out = torch.cat([out, torch.tensor([[picks[0]]], device=src.device)], dim=1)
        if picks[0] == EOS:
            break
print(
    "the summary's own check, over 64 held-out sequences:", s["reloaded_model_generates_the_same"]
)

# %% [markdown]
# ## The reverse-lm task: a decoder-only model and its causal mask
#
# Each example is `<bos> x1 .. x8 <sep> x8 .. x1`, and the model (the `lm-tiny` decoder, 2
# layers) learns to predict every next token. Accuracy per target position tells what it could
# learn:
# - positions 1-8 (the random sequence): each symbol is drawn independently, and the causal mask
#   stops the model from looking at it before predicting it. The best it can do is guess: 1 in
#   10.
# - position 9 (`<sep>`) always comes after 8 symbols: easy.
# - positions 10-17: the sequence backwards. Every symbol is already in the context, so the
#   model can copy it: near 100%.
#
# A first half far above chance would mean the mask leaks the future.

# %%
result_lm = train(
    TrainRequest(
        task="reverse-lm",
        out=RUNS / "reverse-lm",
        device=DEVICE,
        sets=[
            f"max_steps={REVERSE_LM_STEPS}",
            f"n_train={N_TRAIN}",
            f"n_val={N_VAL}",
            "tensorboard=false",
        ],
    )
)
s_lm = result_lm.summary
print(f"{s_lm['steps']} steps in {s_lm['seconds']:.0f} s")
print(*result_lm.proofs, sep="\n")
acc = s_lm["per_position_accuracy"]
print("per-position accuracy:", " ".join(f"{a:.2f}" for a in acc))
display(Image(filename=str(RUNS / "reverse-lm" / "per_position_accuracy.png")))

# %% [markdown]
# Why the first half cannot be learned, checked directly: change one symbol of the first half and
# the model's predictions *before* it do not move at all (the mask gives position $i$ no view of
# positions $> i$), while the predictions of the second half, which copy that symbol, change.

# %%
from aiayn.tasks.toy import SEP

lm, lm_task = result_lm.model, result_lm.task
x = lm_task.vocab.encode("3 1 4 1 5 9 2 6")  # symbol ids
seq = torch.tensor([[BOS, *x, SEP, *x[::-1]]], device=next(lm.parameters()).device)  # (1, 18)
changed = seq.clone()
changed[0, 4] = 4 + (changed[0, 4] - 4 + 1) % 10  # another symbol at position 4
with torch.no_grad():
    a, b = lm(seq[:, :-1]), lm(changed[:, :-1])
moved = (a - b).abs().amax(-1)[0]  # (17,) largest logit change per position
print("largest logit change per input position (changed symbol at position 4):")
print(" ".join(f"{i}:{m:.2g}" for i, m in enumerate(moved.tolist())))
assert moved[:4].max() < 1e-6, "a future token changed an earlier prediction"

# %% [markdown]
# ## Take a piece away
#
# The causal mask checked above and the positional encodings are two of the pieces
# [docs/first-principles.md](../docs/first-principles.md) removes on toy tasks like these.
# `aiayn ablate no-causal-mask` trains the decoder without its mask: the training loss drops,
# because each position can read its answer, and generation turns to garbage.
# `aiayn ablate no-positional-encoding` trains reversal without positions: the encoder can no
# longer tell where a token is, and about half the reversed tokens come out right.
