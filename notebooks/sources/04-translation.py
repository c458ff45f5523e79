# Source of notebooks/04-translation.ipynb (built by notebooks/build.py).
# ruff: noqa: E402

# %% [markdown]
# # 04 · Translation: Multi30k German to English
#
# {colab_badge}
#
# The paper's encoder-decoder on a small translation corpus: Multi30k (image captions, 29,000
# training pairs). A small model trained for a few minutes, then greedy decoding against beam
# search (section 6.1: beam 4, length penalty $\alpha = 0.6$), scored with sacreBLEU and its
# signature, and the encoder-decoder attention drawn for one sentence.
#
# A few minutes of training gives a model that translates simple captions; the documented
# recipe (`aiayn train multi30k`, 30 to 90 minutes) reaches sacreBLEU 40 on test_2016_flickr.
# To look at such a run here instead, set the environment variable `AIAYN_MULTI30K_RUN` to its
# run directory before starting the notebook: then nothing is trained.

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
# `AIAYN_NOTEBOOK_QUICK=1` (what the test suite sets) trains for a few steps and scores a few
# sentences; the figures below come from the full settings. The data are found as the library
# finds them: `AIAYN_DATA_DIR` if set (a folder with `multi30k/train.de.gz` ...), else the user
# cache, else a download, verified by checksum.

# %%
import os
import warnings
from pathlib import Path

# tqdm (through the library) notes that ipywidgets are missing; the bars are off anyway
warnings.filterwarnings("ignore", message="IProgress not found")
QUICK = os.environ.get("AIAYN_NOTEBOOK_QUICK") == "1"
GIVEN_RUN = os.environ.get("AIAYN_MULTI30K_RUN")  # a trained run directory, or None
TRAIN_MINUTES = 0.5 if QUICK else 2.5
TRAIN_STEPS = 10 if QUICK else 100_000  # the time budget ends the full run
N_SCORED = 16 if QUICK else 200  # test sentences decoded and scored
DEVICE = "auto"  # cuda > mps > cpu
given = f"the given run {Path(GIVEN_RUN).name}" if GIVEN_RUN else f"{TRAIN_MINUTES} minutes"
print(f"quick={QUICK}: {given}, {N_SCORED} test sentences scored")

# %%
import json
import shutil
import time

import torch
from IPython.display import Image, display

from aiayn.app.runs import load_run, write_run_config
from aiayn.config import TrainConfig, model_preset
from aiayn.decoding import SearchOptions
from aiayn.evaluation import attention_heatmap, corpus_scores
from aiayn.models import count_parameters
from aiayn.tasks import get_task
from aiayn.training import Trainer, resolve_device

device = resolve_device(DEVICE)

# %% [markdown]
# ## The data and the shared vocabulary
#
# Section 5.1: "sentences were encoded using byte-pair encoding, which has a shared
# source-target vocabulary". The `multi30k` task learns one BPE vocabulary (8000 pieces) on both
# sides of the training split and saves it in the run directory.

# %%
options = {"eval_bleu_sentences": 0}
if QUICK:  # the first 2000 training pairs only, given as the task's own files, a small BPE
    from aiayn.data import multi30k

    corpus, quick_dir = multi30k("train"), Path("runs/multi30k-quick-data")
    quick_dir.mkdir(parents=True, exist_ok=True)
    for side, lines in (("de", corpus.src[:2000]), ("en", corpus.tgt[:2000])):
        (quick_dir / f"train.{side}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    options.update(train_src=str(quick_dir / "train.de"), train_tgt=str(quick_dir / "train.en"))
    options["bpe_vocab_size"] = 1000
task = get_task("multi30k", options)
train_src, train_ref = task.examples("train")
print(f"{len(train_src):,} training pairs, e.g.\n  de: {train_src[0]}\n  en: {train_ref[0][0]}")

# %% [markdown]
# ## A few minutes of training
#
# What `aiayn train multi30k --preset small` does, step by step: the task's recipe
# (`task.default_train`: token-budget batches of 2048 tokens, Adam with $\beta_2 = 0.98$, the
# inverse-square-root schedule, label smoothing 0.1), a shorter warmup to fit the short run, the
# `small` preset (3 layers, $d_{model}=256$), and the library's one training loop. (The `aiayn
# train` command also decodes the whole validation and test sets at the end, which takes longer
# than this training; the notebook scores a subset below instead.)
#
# The outputs shown on this page come from a run given through `AIAYN_MULTI30K_RUN`: the same
# `small` model and recipe trained for 30 minutes on 2 CPU cores (`aiayn train multi30k
# --max-minutes 30`). Two and a half minutes are a few hundred steps at best, enough to see the
# loss fall but not yet for translations worth reading; the validation BLEU of greedy decoding
# passes 35 after about 16 minutes. Raise `TRAIN_MINUTES` to see it happen here.

# %%
if GIVEN_RUN:
    run_dir = Path(GIVEN_RUN)
    given_summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    print(
        f"not trained here: {run_dir.name} trained {given_summary['steps']} steps in "
        f"{given_summary['seconds'] / 60:.0f} minutes on {given_summary['device']}"
    )
    display(Image(filename=str(run_dir / "loss.png")))
else:
    run_dir = Path("runs/multi30k")
    shutil.rmtree(run_dir, ignore_errors=True)
    train_config = TrainConfig.from_dict(
        {
            **task.default_train,
            "max_minutes": TRAIN_MINUTES,
            "max_steps": TRAIN_STEPS,
            "warmup_steps": 400,
            "eval_every": 250,
            "checkpoint_every": 1000,
            "tensorboard": False,
            "device": DEVICE,
        }
    )
    fields = task.prepare(run_dir, train_config)  # learns and saves the BPE vocabulary
    model_config = model_preset("small").replace(**fields)
    write_run_config(run_dir, task=task, model=model_config, train=train_config)
    torch.manual_seed(train_config.seed)
    model = task.build_model(model_config)
    print(f"vocabulary {fields['vocab_size']:,}; model {count_parameters(model):,} parameters")
    trainer = Trainer(
        model=model,
        config=train_config,
        train_data=task.train_source(train_config),
        out_dir=run_dir,
        device=device,
        d_model=model_config.d_model,
        pad_id=model_config.pad_id,
        smoothing_exclude=task.never_targets,
        evaluate=lambda m: task.evaluate(m, "val"),
    )
    untrained = trainer.evaluate()
    fit = trainer.fit()
    print(
        f"{fit['steps']} steps in {fit['seconds']:.0f} s on {device}; validation loss "
        f"{fit['val_loss']:.3f} per token (untrained {untrained['val_loss']:.3f}), token "
        f"accuracy {fit['val_token_accuracy']:.1%}"
    )
    display(Image(filename=str(run_dir / "loss.png")))

# %% [markdown]
# ## Greedy decoding against beam search
#
# The run is loaded back from its directory, as `aiayn translate` loads it. Greedy decoding takes
# the most probable token at every step; beam search keeps the 4 best partial translations and
# ranks the finished ones with the length penalty $lp(Y) = ((5 + |Y|) / 6)^\alpha$.

# %%
run = load_run(run_dir, device=device)
model, task = run.model, run.task
sources, references = task.examples("test")
sources, references = sources[:N_SCORED], [refs[0] for refs in references[:N_SCORED]]

outputs, seconds = {}, {}
for name, options in (
    ("greedy", SearchOptions()),
    ("beam 4", SearchOptions(beam_size=4, alpha=0.6)),
):
    started = time.perf_counter()
    outputs[name] = task.translate(model, sources, options)
    seconds[name] = time.perf_counter() - started

for i in range(3):
    print(f"de:      {sources[i]}\nref:     {references[i]}")
    print(f"greedy:  {outputs['greedy'][i]}\nbeam 4:  {outputs['beam 4'][i]}\n")

# %% [markdown]
# ## sacreBLEU, with its signature
#
# BLEU numbers are comparable only when computed the same way, so every score comes with
# sacreBLEU's signature (number of references, casing, tokenizer, smoothing, version). These are
# scores of the first sentences of test_2016_flickr only, to keep the notebook quick: the figure
# of a run is `aiayn eval RUN --split test`, on all 1000.

# %%
for name, hyps in outputs.items():
    sc = corpus_scores(hyps, references)
    print(
        f"{name:>7}: sacreBLEU {sc.bleu:5.2f}, chrF {sc.chrf:5.2f} on {sc.n_sentences} "
        f"sentences, {seconds[name]:.1f} s"
    )
print("signature:", sc.bleu_signature)
changed = sum(g != b for g, b in zip(outputs["greedy"], outputs["beam 4"], strict=True))
print(f"beam search changed {changed} of {len(sources)} translations")

# %% [markdown]
# ## Where the decoder looks: encoder-decoder attention
#
# For each output token (rows), how the last decoder layer's encoder-decoder attention spreads
# over the source tokens (columns), averaged over the heads. A trained model's weights follow the
# alignment of the two sentences: a German word and its English translation light up together.

# %%
sentence = "Ein Mann fährt mit dem Fahrrad die Straße entlang."
translation, maps = task.attention(model, sentence)
cross = maps["cross"]  # weights (layers, heads, output, source)
weights = cross.weights[-1]  # the last layer: (heads, output, source)
print(f"{sentence}\n-> {translation}\nweights: (heads, output, source) = {tuple(weights.shape)}")
png = attention_heatmap(
    weights,
    src_tokens=cross.key_tokens,
    tgt_tokens=cross.query_tokens,
    out=Path("runs/multi30k-attention.png"),
    average_heads=True,
    title="encoder-decoder attention, last layer",
)
display(Image(filename=str(png)))
